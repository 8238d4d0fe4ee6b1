"""Review pages: the queue, the review of one case, histopathology, outcomes. Thin by design."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import selectors as case_selectors
from cases.views import apply_validation_error
from inference import selectors as inference_selectors
from inference.models import ModelVersion

from . import selectors, services
from .forms import HistopathologyForm, OutcomesForm, QueueFilterForm, ReviewForm

QUEUE_PAGE_SIZE = 25


@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    services.require_reviewer(user=request.user)
    form = QueueFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    queue = selectors.review_queue(
        user=request.user,
        risk_level=filters.get("risk_level", ""),
        predicted_class=filters.get("predicted_class", ""),
        clinician=filters["clinician"].pk if filters.get("clinician") else None,
        anatomic_site=filters.get("anatomic_site", ""),
    )
    page = Paginator(queue, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "reviews/queue.html", {"form": form, "page": page})


@require_http_methods(["GET", "POST"])
def review_create(request: HttpRequest, lesion_pk: int) -> HttpResponse:
    services.require_reviewer(user=request.user)
    lesion = case_selectors.lesion_get(user=request.user, pk=lesion_pk)
    prediction = selectors.review_target(lesion=lesion)
    form = ReviewForm(request.POST or None, initial={"prediction": prediction.pk if prediction else None})
    if request.method == "POST" and form.is_valid():
        decision = dict(form.cleaned_data)
        seen = inference_selectors.prediction_get(user=request.user, pk=decision.pop("prediction"))
        try:
            if seen.image.lesion_id != lesion.pk:
                raise services.ReviewConflict("This result belongs to another case.")
            services.review_create(prediction=seen, reviewer=request.user, **decision)
        except services.ReviewConflict as conflict:
            messages.warning(request, f"{conflict} The page now shows the result to review.")
            return redirect("reviews:review", lesion_pk=lesion.pk)
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(
                request, f"Review of “{lesion.label}” saved; {lesion.patient.owner.display_name} is notified."
            )
            following = selectors.review_queue(user=request.user).first()
            return redirect("reviews:review", lesion_pk=following.pk) if following else redirect("reviews:queue")
    return render(
        request,
        "reviews/review_form.html",
        {
            "lesion": lesion,
            "patient": lesion.patient,
            "prediction": prediction,
            "visit_images": case_selectors.image_timeline(lesion=lesion).filter(
                captured_on=prediction.image.captured_on
            )
            if prediction
            else [],
            "images_without_result": selectors.images_without_result(lesion=lesion, since=prediction.image.captured_on)
            if prediction
            else [],
            "form": form,
            "reviews": selectors.lesion_reviews(lesion=lesion),
            "histopathology": selectors.lesion_histopathology(lesion=lesion),
        },
        status=400 if request.method == "POST" else 200,
    )


@require_POST
def histopathology_add(request: HttpRequest, lesion_pk: int) -> HttpResponse:
    lesion = case_selectors.lesion_get(user=request.user, pk=lesion_pk)
    form = HistopathologyForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label if field in form.fields else ''} {' '.join(errors)}")
        return redirect(lesion)
    try:
        services.histopathology_add(lesion=lesion, entered_by=request.user, **form.cleaned_data)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, "Histopathology result recorded.")
    return redirect(lesion)


@require_GET
def outcomes(request: HttpRequest) -> HttpResponse:
    services.require_reviewer(user=request.user)
    form = OutcomesForm(request.GET or None)
    model_version = form.cleaned_data["model_version"] if form.is_valid() else ModelVersion.objects.active()
    if model_version is None:
        model_version = ModelVersion.objects.order_by("-created_at").first()
    report = selectors.model_outcomes(model_version=model_version) if model_version else None
    if model_version and not form.is_bound:
        form = OutcomesForm(initial={"model_version": model_version.pk})
    return render(request, "reviews/outcomes.html", {"form": form, "report": report, "model_version": model_version})
