"""Web UI views: parse the request, call a selector or a service, render. Nothing more."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import permissions
from core.accessnotes import note_listed, note_patients_shown
from core.files import serve_private_file
from core.forms import apply_validation_error
from core.history import history_of
from core.views import refused
from inference.models import DiagnosisClass, RiskLevel
from inference.selectors import timeline_risks
from inference.views import analysis_context
from reviews import selectors as review_selectors
from reviews.forms import HistopathologyForm
from tracking import selectors as tracking_selectors
from tracking import services as tracking_services

from . import selectors, services
from .charts import trend_chart
from .forms import (
    ChangeChecklistForm,
    ComparePairForm,
    ImageUploadForm,
    LesionForm,
    PatientForm,
    PatientSearchForm,
    ShareForm,
)
from .models import LesionImage

PATIENTS_PER_PAGE = 25
LESION_HISTORY_ENTRIES = 50


def _form_status(request: HttpRequest) -> int:
    """A form page shown again after a POST has errors: 400, the API's answer to the same input."""
    return 400 if request.method == "POST" else 200


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    patients = list(selectors.my_patients(user=request.user))
    recent_images = list(selectors.recent_images(user=request.user))
    worklist = selectors.worklist(user=request.user)
    # The access log's row for this page names every patient it shows.
    note_patients_shown(
        request,
        [patient.pk for patient in patients]
        + [image.lesion.patient_id for image in recent_images]
        + [lesion.patient_id for lesion in worklist.lesions],
    )
    return render(
        request,
        "cases/dashboard.html",
        {"patients": patients, "recent_images": recent_images, "worklist": worklist},
    )


@require_GET
def patient_list(request: HttpRequest) -> HttpResponse:
    search_form = PatientSearchForm(request.GET)
    query = search_form.cleaned_data["q"] if search_form.is_valid() else ""
    paginator = Paginator(selectors.patient_list(user=request.user, search=query), PATIENTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    note_listed(request, objects=page.object_list, patient_field="pk")
    return render(request, "cases/patient_list.html", {"search_form": search_form, "query": query, "page": page})


@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(owner=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"Patient {patient.full_name} registered.")
            return redirect(patient)
    return render(request, "cases/patient_form.html", {"form": form}, status=_form_status(request))


@require_GET
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    can = {
        "edit": permissions.can_edit_patient(user=request.user, patient=patient),
        "manage_sharing": permissions.can_manage_sharing(user=request.user, patient=patient),
        "export": permissions.can_export_patient_records(user=request.user, patient=patient),
    }
    lesions = list(selectors.lesion_list(user=request.user, patient=patient))
    markers, unplaced = selectors.body_map(lesions=lesions)
    return render(
        request,
        "cases/patient_detail.html",
        {
            "patient": patient,
            "lesions": lesions,
            "body_map": markers,
            "unplaced": unplaced,
            "next_follow_up": selectors.next_follow_up(patient=patient),
            "shares": selectors.patient_shares(patient=patient),
            "can": can,
            "share_form": ShareForm(candidates=selectors.share_candidates(patient=patient))
            if can["manage_sharing"]
            else None,
        },
    )


@require_http_methods(["GET", "POST"])
def patient_update(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    services.require_care_team(patient=patient, actor=request.user)
    form = PatientForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(patient=patient, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, "Patient details saved.")
            return redirect(patient)
    return render(request, "cases/patient_form.html", {"form": form, "patient": patient}, status=_form_status(request))


def _refused_on_patient(request: HttpRequest, patient, message: str, *, status: int) -> HttpResponse:
    return refused(
        request, message=message, status=status, back_url=patient.get_absolute_url(), back_label="Back to the patient"
    )


@require_POST
def patient_share(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    form = ShareForm(request.POST, candidates=selectors.share_candidates(patient=patient))
    if not form.is_valid():
        return _refused_on_patient(request, patient, "Choose a clinician to share this patient with.", status=400)
    try:
        share = services.patient_share(patient=patient, actor=request.user, clinician=form.cleaned_data["clinician"])
    except ValidationError as error:
        return _refused_on_patient(request, patient, " ".join(error.messages), status=400)
    messages.success(request, f"{share.clinician.display_name} can now see and edit this patient.")
    return redirect(patient)


@require_POST
def patient_unshare(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    clinician = selectors.clinician_get(pk=user_pk)
    if not services.patient_unshare(patient=patient, actor=request.user, clinician=clinician):
        message = f"{clinician.display_name} was not on this patient's care team."
        return _refused_on_patient(request, patient, message, status=404)
    messages.success(request, f"{clinician.display_name} no longer has access to this patient.")
    return redirect(patient)


@require_http_methods(["GET", "POST"])
def lesion_create(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=patient_pk)
    services.require_care_team(patient=patient, actor=request.user)
    form = LesionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lesion = services.lesion_create(patient=patient, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"Lesion “{lesion.label}” opened.")
            return redirect(lesion)
    return render(request, "cases/lesion_form.html", {"form": form, "patient": patient}, status=_form_status(request))


@require_GET
def lesion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lesion = selectors.lesion_get(user=request.user, pk=pk)
    images = list(selectors.image_timeline(lesion=lesion))
    predictions = timeline_risks(images=images)
    pair = tracking_selectors.default_pair(lesion=lesion)
    return render(
        request,
        "cases/lesion_detail.html",
        {
            "lesion": lesion,
            "patient": lesion.patient,
            "timeline": [(image, predictions[image.pk]) for image in images],
            "filmstrip": _filmstrip(lesion=lesion, images=images),
            "trend": trend_chart(tracking_selectors.lesion_trend(lesion=lesion, user=request.user)),
            "change": tracking_selectors.lesion_change(lesion=lesion),
            "latest_compare_url": tracking_selectors.compare_url(lesion=lesion, earlier=pair[0], later=pair[1])
            if pair
            else None,
            "upload_form": ImageUploadForm(),
            "reviews": review_selectors.lesion_reviews(lesion=lesion),
            "histopathology": review_selectors.lesion_histopathology(lesion=lesion),
            "histopathology_form": HistopathologyForm(),
            "can": {
                "edit": permissions.can_edit_lesion(user=request.user, lesion=lesion),
                "review": permissions.can_review(user=request.user),
                "record_histopathology": permissions.can_record_histopathology(user=request.user, lesion=lesion),
                "export": permissions.can_export_patient_records(user=request.user, patient=lesion.patient),
            },
            "history": history_of(instance=lesion, limit=LESION_HISTORY_ENTRIES),
        },
    )


@require_http_methods(["GET", "POST"])
def lesion_update(request: HttpRequest, pk: int) -> HttpResponse:
    lesion = selectors.lesion_get(user=request.user, pk=pk)
    services.require_care_team(patient=lesion.patient, actor=request.user)
    form = LesionForm(request.POST or None, instance=lesion)
    if request.method == "POST" and form.is_valid():
        try:
            services.lesion_update(lesion=lesion, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, "Lesion saved.")
            return redirect(lesion)
    return render(
        request,
        "cases/lesion_form.html",
        {"form": form, "patient": lesion.patient, "lesion": lesion},
        status=_form_status(request),
    )


@require_http_methods(["GET", "POST"])
def image_upload(request: HttpRequest, lesion_pk: int) -> HttpResponse:
    lesion = selectors.lesion_get(user=request.user, pk=lesion_pk)
    services.require_care_team(patient=lesion.patient, actor=request.user)
    form = ImageUploadForm(request.POST or None, request.FILES or None)
    rejections: list[str] = []
    status = _form_status(request)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.image_upload(
                lesion=lesion,
                uploaded_by=request.user,
                files=form.cleaned_data["files"],
                captured_on=form.cleaned_data["captured_on"],
                modality=form.cleaned_data["modality"],
                pixel_spacing_mm=form.cleaned_data["pixel_spacing_mm"],
            )
        except services.UploadRejected as error:
            rejections = error.messages
            form.add_error("files", "Nothing was stored: fix or remove the files listed below and upload again.")
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            if result.stored:
                count = len(result.stored)
                messages.success(request, f"{count} image{'s' if count != 1 else ''} stored.")
            for message in result.duplicate_messages:
                messages.warning(request, message)
            if result.stored or not result.duplicates:
                return redirect(lesion)
            status = 409  # every file was one the lesion has already: nothing stored, as the API's 409
    return render(
        request,
        "cases/image_upload.html",
        {"form": form, "lesion": lesion, "patient": lesion.patient, "rejections": rejections},
        status=status,
    )


@require_GET
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    image = selectors.image_get(user=request.user, pk=pk)
    previous_image, next_image = selectors.image_neighbours(image=image)
    compare_with = previous_image or next_image
    analysis = analysis_context(request=request, image=image)
    analysis["can"]["export"] = permissions.can_export_patient_records(user=request.user, patient=image.lesion.patient)
    return render(
        request,
        "cases/image_detail.html",
        {
            "measurement": tracking_selectors.measurement_report(image=image),
            "compare_url": tracking_selectors.compare_url(
                lesion=image.lesion,
                earlier=compare_with if compare_with == previous_image else image,
                later=image if compare_with == previous_image else compare_with,
            )
            if compare_with
            else None,
            **analysis,
            "image": image,
            "lesion": image.lesion,
            "patient": image.lesion.patient,
            "previous_image": previous_image,
            "next_image": next_image,
            "original_filename": selectors.original_filename_for(image=image, user=request.user),
        },
    )


@require_GET
def image_file(request: HttpRequest, pk: int) -> HttpResponse:
    image: LesionImage = selectors.image_get(user=request.user, pk=pk)
    return serve_private_file(image.file)


@require_GET
def image_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    image: LesionImage = selectors.image_get(user=request.user, pk=pk)
    return serve_private_file(image.thumbnail)


def _filmstrip(*, lesion, images: list[LesionImage]) -> list[dict]:
    """The lesion's images left to right, each with the link comparing it with the one before."""
    items = []
    for index, image in enumerate(images):
        before = images[index - 1] if index > 0 else None
        items.append(
            {
                "image": image,
                "compare_url": tracking_selectors.compare_url(lesion=lesion, earlier=before, later=image)
                if before
                else None,
            }
        )
    return items


def _compare_side(*, image: LesionImage, report_side: dict) -> dict:
    """One side of the compare page, in the shape its template reads."""
    result = report_side["result"]
    measurement = report_side["measurements"]
    probabilities = [
        {"label": label, "name": DiagnosisClass(label).label, "percent": value * 100}
        for label, value in result["probabilities"].items()
        if value is not None
    ]
    heatmap_url = None
    if result["figures_shown"] and result["prediction"]:
        heatmap_url = (
            reverse("inference:prediction-heatmap", kwargs={"pk": result["prediction"]})
            + f"?class={result['heatmap_class']}"
        )
    return {
        "image": image,
        "prediction": result["prediction"],
        "figures_shown": result["figures_shown"],
        "risk_level": result["risk_level"],
        "risk_label": RiskLevel(result["risk_level"]).label if result["risk_level"] else None,
        "probabilities": probabilities,
        "withheld_reason": result["withheld_reason"],
        "heatmap_url": heatmap_url,
        "measurement": measurement if measurement["status"] != "pending" else None,
        "outline": measurement["outline"],
    }


def _compare_pair(request: HttpRequest, lesion):
    """The pair asked for by ``?from=&to=`` (a 400 for ids that are not numbers)."""
    form = ComparePairForm(request.GET)
    if not form.is_valid():
        return None, HttpResponseBadRequest("from and to must be image ids of this lesion.")
    pair = selectors.comparison_pair(
        lesion=lesion, from_pk=form.cleaned_data["from_image"], to_pk=form.cleaned_data["to_image"]
    )
    if pair is None:
        return None, refused(
            request,
            message="This lesion has fewer than two images: upload a later visit to compare.",
            status=409,
            back_url=lesion.get_absolute_url(),
            back_label="Back to the lesion",
        )
    return pair, None


@require_GET
def lesion_compare(request: HttpRequest, pk: int) -> HttpResponse:
    lesion = selectors.lesion_get(user=request.user, pk=pk)
    pair, refusal = _compare_pair(request, lesion)
    if refusal is not None:
        return refusal
    try:
        comparison = tracking_services.comparison_get_or_compute(earlier=pair[0], later=pair[1])
    except tracking_services.NotComparable as error:
        return refused(
            request, message=str(error), status=400, back_url=lesion.get_absolute_url(), back_label="Back to the lesion"
        )
    return _render_compare(request, lesion=lesion, comparison=comparison, checklist_form=None)


def _render_compare(request: HttpRequest, *, lesion, comparison, checklist_form, status: int = 200) -> HttpResponse:
    report = tracking_selectors.comparison_report(comparison=comparison, user=request.user)
    earlier, later = comparison.earlier, comparison.later
    overlay_base = (
        reverse("cases:lesion-compare-overlay", kwargs={"pk": lesion.pk}) + f"?from={earlier.pk}&to={later.pk}"
    )
    probability_changes = [
        {
            "label": change["label"],
            "name": change["name"],
            "from_percent": change["from"] * 100,
            "to_percent": change["to"] * 100,
            "delta_points": change["delta"] * 100,
        }
        for change in (report["change"] or {}).get("probability_changes", [])
    ]
    return render(
        request,
        "cases/lesion_compare.html",
        {
            "lesion": lesion,
            "patient": lesion.patient,
            "images": list(selectors.image_timeline(lesion=lesion)),
            "earlier": _compare_side(image=earlier, report_side=report["from"]),
            "later": _compare_side(image=later, report_side=report["to"]),
            "comparison": {
                **report,
                "probability_changes": probability_changes,
                "risk_change": (report["change"] or {}).get("risk_change", ""),
            },
            "overlay_urls": {"aligned": f"{overlay_base}&mode=aligned", "difference": f"{overlay_base}&mode=difference"}
            if comparison.aligned
            else None,
            "assessments": tracking_selectors.pair_assessments(earlier=earlier, later=later),
            "checklist_form": checklist_form or ChangeChecklistForm(initial={"earlier": earlier.pk, "later": later.pk}),
            "can": {"assess": permissions.can_assess_change(user=request.user, lesion=lesion)},
        },
        status=status,
    )


@require_GET
def lesion_compare_overlay(request: HttpRequest, pk: int) -> HttpResponse:
    """The aligned later image, a swipe composite or the difference map, as an image."""
    lesion = selectors.lesion_get(user=request.user, pk=pk)
    pair, refusal = _compare_pair(request, lesion)
    if refusal is not None:
        return refusal
    mode = request.GET.get("mode", "aligned")
    if mode not in tracking_services.OVERLAY_MODES:
        return HttpResponseBadRequest(f"mode must be one of {', '.join(tracking_services.OVERLAY_MODES)}.")
    try:
        position = float(request.GET.get("position", 0.5))
    except ValueError:
        return HttpResponseBadRequest("position must be a number between 0 and 1.")
    try:
        comparison = tracking_services.comparison_get_or_compute(earlier=pair[0], later=pair[1])
        content, content_type = tracking_services.comparison_overlay(
            comparison=comparison, mode=mode, position=position
        )
    except tracking_services.NotComparable as error:
        return HttpResponseBadRequest(str(error))
    except tracking_services.ComparisonNotAligned as error:
        return HttpResponse(str(error), status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def lesion_assess_change(request: HttpRequest, pk: int) -> HttpResponse:
    lesion = selectors.lesion_get(user=request.user, pk=pk)
    form = ChangeChecklistForm(request.POST)
    if not form.is_valid():
        pair = None
        if form.cleaned_data.get("earlier") and form.cleaned_data.get("later"):
            pair = selectors.comparison_pair(
                lesion=lesion, from_pk=form.cleaned_data["earlier"], to_pk=form.cleaned_data["later"]
            )
        if pair is None:
            return HttpResponseBadRequest("earlier and later must be image ids of this lesion.")
        comparison = tracking_services.comparison_get_or_compute(earlier=pair[0], later=pair[1])
        return _render_compare(request, lesion=lesion, comparison=comparison, checklist_form=form, status=400)
    earlier = selectors.lesion_image_get(lesion=lesion, pk=form.cleaned_data["earlier"])
    later = selectors.lesion_image_get(lesion=lesion, pk=form.cleaned_data["later"])
    try:
        tracking_services.change_assessment_record(
            lesion=lesion,
            actor=request.user,
            earlier=earlier,
            later=later,
            verdict=form.cleaned_data["verdict"],
            criteria=form.cleaned_data["criteria"],
            note=form.cleaned_data["note"],
        )
    except ValidationError as error:
        apply_validation_error(form, error)
        comparison = tracking_services.comparison_get_or_compute(earlier=earlier, later=later)
        return _render_compare(request, lesion=lesion, comparison=comparison, checklist_form=form, status=400)
    messages.success(request, "Change assessment recorded.")
    return redirect(tracking_selectors.compare_url(lesion=lesion, earlier=earlier, later=later))
