"""Review pages: the queue, the review of one case, histopathology, outcomes. Thin by design."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases import selectors as case_selectors
from core.forms import apply_validation_error
from core.views import refused
from inference import selectors as inference_selectors

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
    initial = {"prediction": prediction.pk if prediction else None}
    form = ReviewForm(request.POST or None, initial=initial)
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        decision = dict(form.cleaned_data)
        seen = inference_selectors.prediction_get(user=request.user, pk=decision.pop("prediction"))
        try:
            if seen.image.lesion_id != lesion.pk:
                raise services.ReviewConflict("This result belongs to another case.")
            services.review_create(prediction=seen, reviewer=request.user, **decision)
        except services.ReviewConflict as conflict:
            # As the API's 409: nothing saved; the page shows the result to review now, with an empty form.
            messages.warning(request, f"{conflict} The page now shows the result to review.")
            form, status = ReviewForm(initial=initial), 409
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
            "visit_images": case_selectors.visit_images(lesion=lesion, captured_on=prediction.image.captured_on)
            if prediction
            else [],
            "images_without_result": selectors.images_without_result(lesion=lesion, since=prediction.image.captured_on)
            if prediction
            else [],
            "form": form,
            "reviews": selectors.lesion_reviews(lesion=lesion),
            "histopathology": selectors.lesion_histopathology(lesion=lesion),
        },
        status=status,
    )


@require_POST
def histopathology_add(request: HttpRequest, lesion_pk: int) -> HttpResponse:
    lesion = case_selectors.lesion_get(user=request.user, pk=lesion_pk)
    form = HistopathologyForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(
                [
                    f"{form.fields[field].label if field in form.fields else ''} {' '.join(errors)}".strip()
                    for field, errors in form.errors.items()
                ]
            )
        services.histopathology_add(lesion=lesion, entered_by=request.user, **form.cleaned_data)
    except ValidationError as error:
        return refused(
            request,
            message=" ".join(error.messages),
            status=400,
            back_url=lesion.get_absolute_url(),
            back_label="Back to the lesion",
        )
    messages.success(request, "Histopathology result recorded.")
    return redirect(lesion)


@require_GET
def outcomes(request: HttpRequest) -> HttpResponse:
    """Answers as the API does: the version asked for (404 if unknown, 400 if not an id), else
    the active one, else the newest; 404 while no version is registered."""
    services.require_reviewer(user=request.user)
    reference = request.GET.get("model_version")
    if reference is not None and not reference.isdigit():
        form = OutcomesForm(request.GET)
        form.is_valid()
        return render(request, "reviews/outcomes.html", {"form": form, "report": None}, status=400)
    model_version = inference_selectors.model_version_for_report(pk=int(reference) if reference else None)
    if model_version is None:
        return render(request, "reviews/outcomes.html", {"form": OutcomesForm(), "report": None}, status=404)
    return render(
        request,
        "reviews/outcomes.html",
        {
            "form": OutcomesForm(initial={"model_version": model_version.pk}),
            "report": selectors.model_outcomes(model_version=model_version),
            "model_version": model_version,
        },
    )
