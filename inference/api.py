"""API endpoints for predictions and model versions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import Conflict, IgnoreAcceptHeader, PatientsShownMixin, error_response
from core.files import serve_private_file
from core.history import history_of
from core.serializers import HistoryEntrySerializer

from . import selectors, services
from .filters import PredictionFilter
from .models import DiagnosisClass
from .serializers import HeatmapQuerySerializer, ModelVersionSerializer, PredictionSerializer


@extend_schema_view(
    list=extend_schema(summary="List predictions", tags=["predictions"]),
    retrieve=extend_schema(summary="Get a prediction (poll this until it has finished)", tags=["predictions"]),
)
class PredictionViewSet(PatientsShownMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PredictionSerializer
    filterset_class = PredictionFilter
    patient_field = "image__lesion__patient_id"
    ordering_fields = ["created_at", "finished_at"]

    def get_queryset(self):
        return selectors.prediction_list(user=self.request.user)

    @extend_schema(
        summary="Queue a new prediction of the same image by the active model (patient's owner or admin)",
        request=None,
        responses={
            201: PredictionSerializer,
            403: error_response("Only the patient's owner or an admin may."),
            409: error_response("No model version is active, or this version's analysis of the image is pending."),
            429: error_response("Too many re-runs by this user; Retry-After says when to try again."),
        },
        tags=["predictions"],
    )
    @action(detail=True, methods=["post"])
    def rerun(self, request: Request, pk: int) -> Response:
        prediction = self.get_object()
        try:
            new_prediction = services.prediction_rerun(image=prediction.image, requested_by=request.user)
        except (services.NoActiveModel, services.RerunPending) as error:
            raise Conflict(str(error)) from None
        except services.RerunThrottled as error:
            raise exceptions.Throttled(wait=error.wait, detail=str(error)) from None
        new_prediction.refresh_from_db()  # tasks run in-process (local profile) have finished already
        return Response(self.get_serializer(new_prediction).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The Grad-CAM heatmap over the image",
        description=(
            "The stored overlay for the predicted class, or one rendered from the stored class maps for "
            '`class` and `opacity`. 409 while the prediction has not succeeded, and 409 ("withheld") when '
            "the quality gate withheld the result (`withheld: true`) and you are not an admin."
        ),
        parameters=[
            OpenApiParameter("class", str, enum=DiagnosisClass.values, description="Class whose map to show."),
            OpenApiParameter("opacity", float, description="0 to 1; 1 shows the map alone."),
        ],
        responses={
            (200, "image/jpeg"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="A JPEG the size of the image (a rendered one at most SKINPORTAL_MAX_HEATMAP_PIXELS).",
            ),
            302: OpenApiResponse(description="With S3 storage: a redirect to a signed URL of the stored overlay."),
            409: error_response(
                "The prediction has not succeeded (yet), its result is withheld (the image could not be "
                "judged), or its image cannot be read."
            ),
            429: error_response("Too many heatmaps rendered by this user in the last minute."),
        },
        tags=["predictions"],
    )
    @action(detail=True, methods=["get"], content_negotiation_class=IgnoreAcceptHeader, filter_backends=[])
    def heatmap(self, request: Request, pk: int):
        prediction = self.get_object()
        query = HeatmapQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            heatmap = services.prediction_heatmap(
                prediction=prediction,
                user=request.user,
                class_label=request.query_params.get("class"),
                opacity=query.validated_data.get("opacity"),
            )
        except ValidationError as error:
            raise exceptions.ValidationError({"class": error.messages}) from None
        except (services.HeatmapUnavailable, services.UnreadableImage) as error:
            raise Conflict(str(error)) from None
        except services.HeatmapThrottled as error:
            raise exceptions.Throttled(wait=error.wait, detail=str(error)) from None
        if isinstance(heatmap, bytes):
            return HttpResponse(heatmap, content_type="image/jpeg", headers={"Cache-Control": "no-store"})
        return serve_private_file(heatmap)


@extend_schema_view(
    list=extend_schema(summary="List registered model versions", tags=["model versions"]),
    retrieve=extend_schema(summary="Get a model version with its evaluation metrics", tags=["model versions"]),
)
class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ModelVersionSerializer
    filterset_fields = ["is_active"]
    ordering_fields = ["created_at", "name", "version"]

    def get_queryset(self):
        return selectors.model_version_list()

    @extend_schema(
        summary="The model version's change history (registration, activation, metrics)",
        responses=HistoryEntrySerializer(many=True),
        tags=["model versions"],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: int) -> Response:
        page = self.paginate_queryset(history_of(instance=self.get_object()))
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)
