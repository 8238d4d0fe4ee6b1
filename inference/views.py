"""Prediction views: state for the image page's polling, heatmaps, re-runs. Thin by design."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from cases import selectors as case_selectors
from core import permissions
from core.files import serve_private_file
from core.views import refused
from skinml.heatmaps import DEFAULT_OPACITY

from . import selectors, services


def analysis_context(*, request: HttpRequest, image) -> dict:
    """What the image page's analysis panel shows (also rendered alone for polling)."""
    current, history, pending = selectors.image_analysis(image=image)
    figures_shown = selectors.result_figures_shown(prediction=current, user=request.user)
    shown_class = request.GET.get("class")
    if not figures_shown:
        shown_class = None
    elif shown_class not in current.model_version.class_labels:
        shown_class = current.heatmap_class
    return {
        "image": image,
        "prediction": current,
        "history": history,
        "pending": pending,
        "figures_shown": figures_shown,
        "shown_class": shown_class,
        "can": {"rerun": permissions.can_rerun_prediction(user=request.user, image=image)},
        "default_opacity": DEFAULT_OPACITY,
    }


@require_GET
def image_analysis(request: HttpRequest, image_pk: int) -> JsonResponse:
    """The image page polls this while a prediction is queued or running."""
    image = case_selectors.image_get(user=request.user, pk=image_pk)
    context = analysis_context(request=request, image=image)
    prediction = context["prediction"]
    return JsonResponse(
        {
            "status": prediction.status if prediction else None,
            "finished": not context["pending"],
            "html": render_to_string("inference/_analysis.html", context, request=request),
        },
        headers={"Cache-Control": "no-store"},
    )


@require_POST
def image_predict(request: HttpRequest, image_pk: int) -> HttpResponse:
    image = case_selectors.image_get(user=request.user, pk=image_pk)
    try:
        services.prediction_rerun(image=image, requested_by=request.user)
    except (services.NoActiveModel, services.RerunPending) as error:
        return refused(
            request, message=str(error), status=409, back_url=image.get_absolute_url(), back_label="Back to the image"
        )
    except services.RerunThrottled as error:
        response = refused(
            request, message=str(error), status=429, back_url=image.get_absolute_url(), back_label="Back to the image"
        )
        response["Retry-After"] = str(error.wait)
        return response
    messages.success(request, "A new analysis with the active model was queued.")
    return redirect(image)


@require_GET
def prediction_heatmap(request: HttpRequest, pk: int) -> HttpResponse:
    """The Grad-CAM overlay: the stored one by default, or for ?class= and ?opacity= (0 to 1).
    Answers as the API does: 400 for a bad class or opacity, 409 without a heatmap or when the
    result is withheld from the user."""
    prediction = selectors.prediction_get(user=request.user, pk=pk)
    try:
        opacity = float(request.GET["opacity"]) if "opacity" in request.GET else None
    except ValueError:
        return HttpResponseBadRequest("opacity must be a number between 0 and 1")
    try:
        heatmap = services.prediction_heatmap(
            prediction=prediction, user=request.user, class_label=request.GET.get("class"), opacity=opacity
        )
    except ValidationError as error:
        return HttpResponseBadRequest(" ".join(error.messages))
    except (services.HeatmapUnavailable, services.UnreadableImage) as error:
        return HttpResponse(str(error), status=409, content_type="text/plain")
    except services.HeatmapThrottled as error:
        return HttpResponse(str(error), status=429, content_type="text/plain", headers={"Retry-After": str(error.wait)})
    if isinstance(heatmap, bytes):
        return HttpResponse(heatmap, content_type="image/jpeg", headers={"Cache-Control": "no-store"})
    return serve_private_file(heatmap)
