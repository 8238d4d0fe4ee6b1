"""Admin for reviewing cases. Querysets go through the access rule and writes through the
services, so the admin can never disagree with the web UI."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count

from core.admin import ReadOnlyAdminMixin, VisibleToUserAdmin, thumbnail_html

from . import services
from .models import Lesion, LesionImage, Patient, PatientShare


class PatientShareInline(admin.TabularInline):
    model = PatientShare
    fk_name = "patient"
    extra = 0
    fields = ("clinician", "granted_by", "created_at")
    readonly_fields = ("clinician", "granted_by", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class LesionInline(admin.TabularInline):
    model = Lesion
    extra = 0
    fields = ("label", "anatomic_site", "status", "opened_on")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Patient)
class PatientAdmin(VisibleToUserAdmin):
    list_display = (
        "identifier",
        "family_name",
        "given_name",
        "date_of_birth",
        "sex",
        "owner",
        "lesion_count",
        "created_at",
    )
    list_filter = ("sex", "created_at", "owner")
    search_fields = ("identifier", "given_name", "family_name")
    date_hierarchy = "created_at"
    fields = ("identifier", "given_name", "family_name", "date_of_birth", "sex", "notes", "owner", "created_at")
    readonly_fields = ("owner", "created_at")
    inlines = [LesionInline, PatientShareInline]
    list_select_related = ("owner",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(lesion_count=Count("lesions"))

    @admin.display(ordering="lesion_count", description="lesions")
    def lesion_count(self, obj: Patient) -> int:
        return obj.lesion_count

    def save_model(self, request, obj: Patient, form, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in services.PATIENT_FIELDS if name in form.cleaned_data}
        try:
            if change:
                services.patient_update(patient=obj, actor=request.user, **values)
            else:
                saved = services.patient_create(owner=request.user, **values)
                obj.pk = saved.pk
        except ValidationError as error:  # pragma: no cover - the form validated the same rules
            raise ValidationError(error.messages) from error

    def get_deleted_objects(self, objs, request):
        # The patient's lesions, images and predictions go with it (patient_delete removes their
        # files too); their own admins refuse single deletes, which must not block this one.
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj: Patient) -> None:
        services.patient_delete(patient=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for patient in queryset:
            services.patient_delete(patient=patient, actor=request.user)


class LesionImageInline(admin.TabularInline):
    model = LesionImage
    extra = 0
    fields = ("preview", "captured_on", "modality", "width", "height", "uploaded_by", "uploaded_at")
    readonly_fields = fields
    ordering = ("captured_on", "uploaded_at")
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="image")
    def preview(self, obj: LesionImage) -> str:
        return thumbnail_html(obj)


@admin.register(Lesion)
class LesionAdmin(VisibleToUserAdmin):
    list_display = ("label", "patient", "anatomic_site", "status", "opened_on", "image_count")
    list_filter = ("status", "anatomic_site", "opened_on")
    search_fields = ("label", "patient__identifier", "patient__family_name", "patient__given_name")
    fields = ("patient", "label", "anatomic_site", "status", "opened_on", "created_by", "created_at")
    readonly_fields = ("patient", "created_by", "created_at")
    inlines = [LesionImageInline]
    list_select_related = ("patient",)

    def get_queryset(self, request):
        return super().get_queryset(request).with_image_count()

    @admin.display(ordering="image_count", description="images")
    def image_count(self, obj: Lesion) -> int:
        return obj.image_count

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        # Lesions are opened from a patient's page in the web UI, where the patient is known.
        return False

    def save_model(self, request, obj: Lesion, form, change: bool) -> None:
        values = {name: form.cleaned_data[name] for name in services.LESION_FIELDS if name in form.cleaned_data}
        services.lesion_update(lesion=obj, actor=request.user, **values)


@admin.register(LesionImage)
class LesionImageAdmin(ReadOnlyAdminMixin, VisibleToUserAdmin):
    """Read only: uploads go through the web UI and the API, which check every file; images go
    with their patient (PatientAdmin), which also removes the stored files."""

    list_display = (
        "preview",
        "pk",
        "lesion",
        "patient",
        "captured_on",
        "modality",
        "width",
        "height",
        "uploaded_by",
        "uploaded_at",
    )
    list_display_links = ("preview", "pk")
    list_filter = ("modality", "captured_on", "uploaded_at", "source_format")
    search_fields = ("sha256", "lesion__label", "lesion__patient__identifier", "lesion__patient__family_name")
    date_hierarchy = "captured_on"
    list_select_related = ("lesion__patient", "uploaded_by")
    # The original file name is private to the uploader and is not shown here.
    fields = (
        "large_preview",
        "lesion",
        "captured_on",
        "modality",
        "width",
        "height",
        "sha256",
        "source_format",
        "uploaded_by",
        "uploaded_at",
    )
    readonly_fields = fields

    @admin.display(description="image")
    def preview(self, obj: LesionImage) -> str:
        return thumbnail_html(obj)

    @admin.display(description="image")
    def large_preview(self, obj: LesionImage) -> str:
        return thumbnail_html(obj, size=320)

    @admin.display(ordering="lesion__patient__family_name")
    def patient(self, obj: LesionImage) -> Patient:
        return obj.lesion.patient
