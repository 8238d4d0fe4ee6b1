"""API endpoints for case review: the queue, decisions, histopathology and outcomes."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.models import AnatomicSite, Lesion
from core.api import Conflict, PatientsShownMixin, error_response
from inference import selectors as inference_selectors
from inference.models import DiagnosisClass, RiskLevel

from . import selectors, services
from .models import Histopathology, Review
from .serializers import (
    HistopathologyInputSerializer,
    HistopathologySerializer,
    OutcomesSerializer,
    QueueItemSerializer,
    ReviewInputSerializer,
    ReviewSerializer,
)

ONLY_REVIEWERS = error_response("Only reviewers and admins may.")


class ReviewFilter(django_filters.FilterSet):
    lesion = django_filters.NumberFilter(field_name="lesion_id")
    patient = django_filters.NumberFilter(field_name="lesion__patient_id")
    reviewer = django_filters.NumberFilter(field_name="reviewer_id")

    class Meta:
        model = Review
        fields = ["lesion", "patient", "reviewer", "diagnosis", "action", "agrees_with_model"]


class HistopathologyFilter(django_filters.FilterSet):
    lesion = django_filters.NumberFilter(field_name="lesion_id")
    patient = django_filters.NumberFilter(field_name="lesion__patient_id")

    class Meta:
        model = Histopathology
        fields = ["lesion", "patient", "diagnosis"]


class QueueFilter(django_filters.FilterSet):
    """Applied by the selector (its arguments), declared here for the schema and validation."""

    risk_level = django_filters.ChoiceFilter(choices=RiskLevel.choices, method="skip")
    predicted_class = django_filters.ChoiceFilter(choices=DiagnosisClass.choices, method="skip")
    clinician = django_filters.NumberFilter(method="skip")
    anatomic_site = django_filters.ChoiceFilter(choices=AnatomicSite.choices, method="skip")

    def skip(self, queryset, name, value):
        return queryset


@extend_schema_view(
    list=extend_schema(
        summary="The review queue: unreviewed latest results, highest risk first (reviewers)",
        parameters=[
            OpenApiParameter("risk_level", str, enum=RiskLevel.values),
            OpenApiParameter("predicted_class", str, enum=DiagnosisClass.values),
            OpenApiParameter("clinician", int, description="The patient owner's user id."),
            OpenApiParameter("anatomic_site", str, enum=AnatomicSite.values),
        ],
        responses={200: QueueItemSerializer(many=True), 403: ONLY_REVIEWERS},
        tags=["review"],
    )
)
class ReviewQueueViewSet(PatientsShownMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = QueueItemSerializer
    filterset_class = QueueFilter
    filter_backends = []  # the queue's order is the point; filters go to the selector

    def get_queryset(self):
        services.require_reviewer(user=self.request.user)
        query = QueueFilter(self.request.query_params, queryset=Lesion.objects.none())
        if not query.is_valid():
            raise exceptions.ValidationError(query.errors)
        filters = query.form.cleaned_data
        return selectors.review_queue(
            user=self.request.user,
            risk_level=filters.get("risk_level") or "",
            predicted_class=filters.get("predicted_class") or "",
            clinician=filters.get("clinician"),
            anatomic_site=filters.get("anatomic_site") or "",
        )


@extend_schema_view(
    list=extend_schema(summary="List review decisions (of the cases you may see)", tags=["review"]),
    retrieve=extend_schema(summary="Get a review decision", tags=["review"]),
    create=extend_schema(
        summary="Review a case's latest result (reviewers)",
        request=ReviewInputSerializer,
        responses={
            201: ReviewSerializer,
            403: ONLY_REVIEWERS,
            409: error_response("The result is reviewed already, or is no longer the case's result to review."),
        },
        tags=["review"],
    ),
)
class ReviewViewSet(
    PatientsShownMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    patient_field = "lesion__patient_id"
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.review_list(user=self.request.user)

    def create(self, request: Request) -> Response:
        services.require_reviewer(user=request.user)
        data = ReviewInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        try:
            review = services.review_create(reviewer=request.user, **data.validated_data)
        except services.ReviewConflict as conflict:
            raise Conflict(str(conflict)) from None
        return Response(self.get_serializer(review).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List histopathology results (of the cases you may see)", tags=["review"]),
    retrieve=extend_schema(summary="Get a histopathology result", tags=["review"]),
    create=extend_schema(
        summary="Record a histopathology result for a lesion (care team, reviewers)",
        request=HistopathologyInputSerializer,
        responses={201: HistopathologySerializer},
        tags=["review"],
    ),
)
class HistopathologyViewSet(
    PatientsShownMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = HistopathologySerializer
    filterset_class = HistopathologyFilter
    patient_field = "lesion__patient_id"
    ordering_fields = ["diagnosed_on", "created_at"]

    def get_queryset(self):
        return selectors.histopathology_list(user=self.request.user)

    def create(self, request: Request) -> Response:
        data = HistopathologyInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        result = services.histopathology_add(entered_by=request.user, **data.validated_data)
        return Response(self.get_serializer(result).data, status=status.HTTP_201_CREATED)


class OutcomesView(APIView):
    @extend_schema(
        summary="How a model version performs in this clinic: against reviewers and histopathology",
        parameters=[
            OpenApiParameter(
                "model_version",
                int,
                description="Model version id; if omitted, the active one, else the newest registered.",
            )
        ],
        responses={
            200: OutcomesSerializer,
            403: ONLY_REVIEWERS,
            404: error_response("No such model version, or none is registered."),
        },
        tags=["review"],
    )
    def get(self, request: Request) -> Response:
        services.require_reviewer(user=request.user)
        reference = request.query_params.get("model_version")
        if reference is not None and not reference.isdigit():
            raise exceptions.ValidationError({"model_version": ["A model version id."]})
        model_version = inference_selectors.model_version_for_report(pk=int(reference) if reference else None)
        if model_version is None:
            raise exceptions.NotFound("No model version is registered.")
        return Response(OutcomesSerializer(selectors.model_outcomes(model_version=model_version)).data)
