"""Web UI views: parse the request, call a selector or a service, render. Nothing more."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core import permissions
from core.accessnotes import note_listed
from core.files import serve_private_file
from core.forms import apply_validation_error
from core.history import history_of
from core.views import refused
from inference.selectors import timeline_risks
from inference.views import analysis_context
from reviews import selectors as review_selectors
from reviews.forms import HistopathologyForm

from . import selectors, services
from .forms import ImageUploadForm, LesionForm, PatientForm, PatientSearchForm, ShareForm
from .models import LesionImage

PATIENTS_PER_PAGE = 25
LESION_HISTORY_ENTRIES = 50


def _form_status(request: HttpRequest) -> int:
    """A form page shown again after a POST has errors: 400, the API's answer to the same input."""
    return 400 if request.method == "POST" else 200


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "cases/dashboard.html",
        {
            "patients": selectors.my_patients(user=request.user),
            "recent_images": selectors.recent_images(user=request.user),
        },
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
    }
    return render(
        request,
        "cases/patient_detail.html",
        {
            "patient": patient,
            "lesions": selectors.lesion_list(user=request.user, patient=patient),
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
    return render(
        request,
        "cases/lesion_detail.html",
        {
            "lesion": lesion,
            "patient": lesion.patient,
            "timeline": [(image, predictions[image.pk]) for image in images],
            "upload_form": ImageUploadForm(),
            "reviews": review_selectors.lesion_reviews(lesion=lesion),
            "histopathology": review_selectors.lesion_histopathology(lesion=lesion),
            "histopathology_form": HistopathologyForm(),
            "can": {
                "edit": permissions.can_edit_lesion(user=request.user, lesion=lesion),
                "review": permissions.can_review(user=request.user),
                "record_histopathology": permissions.can_record_histopathology(user=request.user, lesion=lesion),
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
    return render(
        request,
        "cases/image_detail.html",
        {
            **analysis_context(request=request, image=image),
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
