"""API endpoints for patients, lesions and images: parse, call a selector or a service,
serialize. The access rule is the UI's (``visible_to``): other clinicians' objects are 404."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.throttling import ScopedRateThrottle

from accounts import selectors as account_selectors
from core.api import (
    Conflict,
    FileTooLarge,
    IgnoreAcceptHeader,
    PatientsShownMixin,
    UnsupportedImageType,
    error_response,
)
from core.files import serve_private_file
from core.history import history_of
from core.serializers import HistoryEntrySerializer
from inference import selectors as inference_selectors
from inference.serializers import PredictionSerializer, PredictRequestSerializer
from inference.services import NoActiveModel, RerunPending, RerunThrottled, prediction_rerun
from tracking import selectors as tracking_selectors
from tracking import services as tracking_services
from tracking.serializers import (
    ChangeAssessmentInputSerializer,
    ChangeAssessmentSerializer,
    ComparisonQuerySerializer,
    ComparisonSerializer,
    MeasurementSerializer,
    TrendPointSerializer,
)

from . import selectors, services
from .filters import ImageFilter, LesionFilter, PatientFilter
from .imaging import RejectionCode
from .models import Lesion, Patient
from .serializers import (
    ImageSerializer,
    ImageUploadSerializer,
    LesionInputSerializer,
    LesionSerializer,
    LesionUpdateSerializer,
    PatientInputSerializer,
    PatientSerializer,
    ShareInputSerializer,
)

FILE_RESPONSE = {
    (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The stored JPEG (metadata removed)."),
    302: OpenApiResponse(description="With S3 storage: a redirect to a signed URL that expires within a minute."),
}


@extend_schema_view(
    list=extend_schema(summary="List patients", tags=["patients"]),
    retrieve=extend_schema(summary="Get a patient", tags=["patients"]),
    create=extend_schema(
        summary="Register a patient",
        request=PatientInputSerializer,
        responses={201: PatientSerializer},
        tags=["patients"],
    ),
    update=extend_schema(summary="Replace a patient's details", request=PatientInputSerializer, tags=["patients"]),
    partial_update=extend_schema(
        summary="Change a patient's details", request=PatientInputSerializer, tags=["patients"]
    ),
    destroy=extend_schema(
        summary="Delete a patient with all their lesions, images and predictions (owner or admin)",
        responses={204: None, 403: error_response("Only the patient's owner or an admin may.")},
        tags=["patients"],
    ),
)
class PatientViewSet(PatientsShownMixin, viewsets.ModelViewSet):
    serializer_class = PatientSerializer
    filterset_class = PatientFilter
    patient_field = "pk"
    ordering_fields = ["family_name", "identifier", "date_of_birth", "created_at"]

    def get_queryset(self):
        return selectors.patients_with_care_team(user=self.request.user)

    def _respond(self, patient: Patient, *, status_code: int = status.HTTP_200_OK) -> Response:
        patient = self.get_queryset().get(pk=patient.pk)  # fresh, with the care team
        return Response(self.get_serializer(patient).data, status=status_code)

    def create(self, request: Request) -> Response:
        data = PatientInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_create(owner=request.user, **data.validated_data)
        return self._respond(patient, status_code=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int, partial: bool = False) -> Response:
        patient = self.get_object()
        data = PatientInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        services.patient_update(patient=patient, actor=request.user, **data.validated_data)
        return self._respond(patient)

    def destroy(self, request: Request, pk: int) -> Response:
        services.patient_delete(patient=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Share the patient with a clinician (owner or admin)",
        request=ShareInputSerializer,
        responses={201: PatientSerializer, 403: error_response("Only the patient's owner or an admin may.")},
        tags=["patients"],
    )
    @action(detail=True, methods=["post"], url_path="shares")
    def share(self, request: Request, pk: int) -> Response:
        patient = self.get_object()
        data = ShareInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        clinician = account_selectors.clinician_find(pk=data.validated_data["clinician"])
        if clinician is None:
            raise exceptions.ValidationError({"clinician": "No such clinician."})
        services.patient_share(patient=patient, actor=request.user, clinician=clinician)
        return self._respond(patient, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The patient record's change history, with its care team's",
        responses=HistoryEntrySerializer(many=True),
        tags=["patients"],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: int) -> Response:
        entries = history_of(instance=self.get_object())
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)

    @extend_schema(
        summary="Revoke a clinician's access (owner or admin)",
        responses={204: None, 403: error_response("Only the patient's owner or an admin may.")},
        tags=["patients"],
    )
    @action(detail=True, methods=["delete"], url_path=r"shares/(?P<user_pk>\d+)")
    def unshare(self, request: Request, pk: int, user_pk: str) -> Response:
        patient = self.get_object()
        clinician = account_selectors.clinician_find(pk=int(user_pk))
        if clinician is None or not services.patient_unshare(patient=patient, actor=request.user, clinician=clinician):
            raise exceptions.NotFound("This clinician is not on the patient's care team.")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List lesion cases", tags=["lesions"]),
    retrieve=extend_schema(summary="Get a lesion case", tags=["lesions"]),
    create=extend_schema(
        summary="Open a lesion case", request=LesionInputSerializer, responses={201: LesionSerializer}, tags=["lesions"]
    ),
    update=extend_schema(summary="Replace a lesion case's details", request=LesionUpdateSerializer, tags=["lesions"]),
    partial_update=extend_schema(summary="Change a lesion case", request=LesionUpdateSerializer, tags=["lesions"]),
)
class LesionViewSet(
    PatientsShownMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = LesionSerializer
    filterset_class = LesionFilter
    ordering_fields = ["opened_on", "label", "status", "anatomic_site"]

    def get_queryset(self):
        return selectors.lesions_with_results(user=self.request.user)

    def _respond(self, lesion: Lesion, *, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=lesion.pk)).data, status=status_code)

    def create(self, request: Request) -> Response:
        data = LesionInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        lesion = services.lesion_create(actor=request.user, **data.validated_data)
        return self._respond(lesion, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The change history of the case, its images, results, reviews and histopathology",
        responses=HistoryEntrySerializer(many=True),
        tags=["lesions"],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: int) -> Response:
        entries = history_of(instance=self.get_object())
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)

    def _comparison(self, request: Request, lesion: Lesion):
        query = ComparisonQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        pair = selectors.comparison_pair(
            lesion=lesion, from_pk=query.validated_data.get("from"), to_pk=query.validated_data.get("to")
        )
        if pair is None:
            raise Conflict("This lesion has fewer than two images: upload a later visit to compare.")
        try:
            return tracking_services.comparison_get_or_compute(earlier=pair[0], later=pair[1]), query.validated_data
        except tracking_services.NotComparable as error:
            raise exceptions.ValidationError({"to": [str(error)]}) from None

    @extend_schema(
        summary="Compare two visits of the lesion: alignment, measured change, change of the result",
        description=(
            "The later image is aligned to the earlier one (whatever order `from` and `to` are given in) and "
            "the change is measured in the earlier image's frame. Without `from` and `to`: the latest visit "
            "against the one before. Computed on first request and cached per pair and algorithm version. A "
            "`registration.status` of `failed` means the alignment cannot be trusted: `change` is then null."
        ),
        parameters=[ComparisonQuerySerializer(partial=True)],
        responses={
            200: ComparisonSerializer,
            409: error_response("The lesion has fewer than two images."),
        },
        tags=["lesions"],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def comparison(self, request: Request, pk: int) -> Response:
        comparison, _ = self._comparison(request, self.get_object())
        return Response(
            ComparisonSerializer(tracking_selectors.comparison_report(comparison=comparison, user=request.user)).data
        )

    @extend_schema(
        summary="An overlay of two aligned visits as an image",
        description=(
            "`mode=aligned` (or `blink`): the later image warped onto the earlier one (JPEG); `swipe`: the "
            "earlier image left of `position` (0..1), the aligned later one right of it (JPEG); `difference`: "
            "where the two differ, in colour (PNG). 409 when the two images could not be aligned."
        ),
        parameters=[ComparisonQuerySerializer(partial=True)],
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="aligned, blink, swipe"),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="difference"),
            409: error_response("The two images could not be aligned."),
        },
        tags=["lesions"],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="comparison/overlay",
        content_negotiation_class=IgnoreAcceptHeader,
        filter_backends=[],
    )
    def comparison_overlay(self, request: Request, pk: int) -> HttpResponse:
        comparison, query = self._comparison(request, self.get_object())
        try:
            content, content_type = tracking_services.comparison_overlay(
                comparison=comparison, mode=query.get("mode", "aligned"), position=query.get("position", 0.5)
            )
        except tracking_services.ComparisonNotAligned as error:
            raise Conflict(str(error)) from None
        response = HttpResponse(content, content_type=content_type)
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        summary="P(MEL), P(BCC), the risk level and the measured area over the visits",
        responses=TrendPointSerializer(many=True),
        tags=["lesions"],
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def trend(self, request: Request, pk: int) -> Response:
        points = tracking_selectors.lesion_trend(lesion=self.get_object(), user=request.user)
        return Response(TrendPointSerializer(points, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary="The change checklists recorded on the lesion",
        responses=ChangeAssessmentSerializer(many=True),
        tags=["lesions"],
    )
    @extend_schema(
        methods=["POST"],
        summary="Record a change checklist on two visits (care team, reviewers, admins)",
        request=ChangeAssessmentInputSerializer,
        responses={201: ChangeAssessmentSerializer, 403: error_response("Not in the care team, not a reviewer.")},
        tags=["lesions"],
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def comparisons(self, request: Request, pk: int) -> Response:
        lesion = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(tracking_selectors.lesion_assessments(lesion=lesion))
            return self.get_paginated_response(ChangeAssessmentSerializer(page, many=True).data)
        data = ChangeAssessmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        earlier = selectors.lesion_image_get(lesion=lesion, pk=data.validated_data["earlier"])
        later = selectors.lesion_image_get(lesion=lesion, pk=data.validated_data["later"])
        assessment = tracking_services.change_assessment_record(
            lesion=lesion,
            actor=request.user,
            earlier=earlier,
            later=later,
            verdict=data.validated_data["verdict"],
            criteria=data.validated_data["criteria"],
            note=data.validated_data["note"],
        )
        return Response(ChangeAssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int, partial: bool = False) -> Response:
        lesion = self.get_object()
        data = LesionUpdateSerializer(data=request.data, partial=partial, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        changes = {name: value for name, value in data.validated_data.items() if value is not None}
        services.lesion_update(lesion=lesion, actor=request.user, **changes)
        return self._respond(lesion)


def _upload_error(rejection) -> exceptions.APIException:
    """One file, one reason; the status says which kind."""
    message = str(rejection)
    if rejection.code == RejectionCode.TOO_LARGE:
        return FileTooLarge(message)
    if rejection.code == RejectionCode.UNSUPPORTED_TYPE:
        return UnsupportedImageType(message)
    return exceptions.ValidationError({"file": [message]})


@extend_schema_view(
    list=extend_schema(summary="List images", tags=["images"]),
    retrieve=extend_schema(summary="Get an image with its current prediction", tags=["images"]),
)
class ImageViewSet(PatientsShownMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ImageSerializer
    filterset_class = ImageFilter
    patient_field = "lesion__patient_id"
    ordering_fields = ["captured_on", "uploaded_at"]
    throttle_scope = "uploads"

    def get_queryset(self):
        return selectors.image_list(user=self.request.user)

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.action == "create" else []

    def _serialize(self, images, *, many: bool, current_predictions: dict | None = None):
        images = list(images) if many else [images]
        context = {
            **self.get_serializer_context(),
            "current_predictions": current_predictions or inference_selectors.timeline_risks(images=images),
        }
        serializer = ImageSerializer(images if many else images[0], many=many, context=context)
        return serializer.data

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._serialize(page, many=True))

    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(self._serialize(self.get_object(), many=False))

    @extend_schema(
        summary="Upload an image of a lesion",
        description=(
            "A multipart upload of one file with the visit date and modality. Answers 201 with the image "
            "and its queued prediction (poll `current_prediction` or `/predictions/{id}/`). A file over the "
            "size limit answers 413, a file that is not a JPEG, PNG or HEIC image 415, other unreadable files "
            "400, and pixels this lesion already has 409; nothing is stored then."
        ),
        request={"multipart/form-data": ImageUploadSerializer},
        responses={
            201: ImageSerializer,
            409: error_response("The lesion already has an image with these pixels (its id is in the message)."),
            413: error_response("The file is over the upload size limit."),
            415: error_response("The file is not a JPEG, PNG or HEIC image."),
        },
        tags=["images"],
    )
    def create(self, request: Request) -> Response:
        data = ImageUploadSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        try:
            result = services.image_upload(
                lesion=data.validated_data["lesion"],
                uploaded_by=request.user,
                files=[data.validated_data["file"]],
                captured_on=data.validated_data["captured_on"],
                modality=data.validated_data["modality"],
                pixel_spacing_mm=data.validated_data.get("pixel_spacing_mm"),
            )
        except services.UploadRejected as error:
            raise _upload_error(error.rejections[0]) from None
        if result.duplicates:
            _, existing = result.duplicates[0]
            raise Conflict(f"{result.duplicate_messages[0]} The stored image is {existing.pk}.")
        image = result.stored[0]
        headers = {"Location": reverse("api:image-detail", kwargs={"pk": image.pk}, request=request)}
        # A new image's only prediction is the one just queued (none without an active model), read
        # back: in-process task runs (the embedded default), or a quick worker, have finished it.
        prediction = result.predictions[image.pk]
        if prediction is not None:
            prediction.refresh_from_db()
        current = {image.pk: prediction}
        return Response(
            self._serialize(image, many=False, current_predictions=current),
            status=status.HTTP_201_CREATED,
            headers=headers,
        )

    @extend_schema(
        summary="The lesion measured on the image: size, asymmetry, border, colours, outline",
        description="Pixels always; millimetres only where the image's pixel spacing is known.",
        responses=MeasurementSerializer,
        tags=["images"],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def measurements(self, request: Request, pk: int) -> Response:
        return Response(MeasurementSerializer(tracking_selectors.measurement_report(image=self.get_object())).data)

    @extend_schema(summary="Download the stored image", responses=FILE_RESPONSE, tags=["images"])
    @action(detail=True, methods=["get"], content_negotiation_class=IgnoreAcceptHeader, filter_backends=[])
    def file(self, request: Request, pk: int):
        return serve_private_file(self.get_object().file)

    @extend_schema(summary="Download the image's thumbnail", responses=FILE_RESPONSE, tags=["images"])
    @action(detail=True, methods=["get"], content_negotiation_class=IgnoreAcceptHeader, filter_backends=[])
    def thumbnail(self, request: Request, pk: int):
        return serve_private_file(self.get_object().thumbnail)

    @extend_schema(
        summary="Queue a new prediction of the image (patient's owner or admin)",
        request=PredictRequestSerializer,
        responses={
            201: PredictionSerializer,
            403: error_response("Only the patient's owner or an admin may."),
            409: error_response("No model version is active, or this version's analysis of the image is pending."),
            429: error_response("Too many re-runs by this user; Retry-After says when to try again."),
        },
        tags=["images"],
    )
    @action(detail=True, methods=["post"])
    def predict(self, request: Request, pk: int) -> Response:
        image = self.get_object()
        data = PredictRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            prediction = prediction_rerun(
                image=image, requested_by=request.user, model_version=data.validated_data.get("model_version")
            )
        except (NoActiveModel, RerunPending) as error:
            raise Conflict(str(error)) from None
        except RerunThrottled as error:
            raise exceptions.Throttled(wait=error.wait, detail=str(error)) from None
        prediction.refresh_from_db()  # tasks run in-process (local profile) have finished already
        return Response(PredictionSerializer(prediction, context=self.get_serializer_context()).data, status=201)
