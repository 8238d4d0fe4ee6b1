"""Who may do what: every "may this user do X (to this object)" check of SkinPortal, by name.

Services refuse with ``PermissionDenied`` on these checks, the admin's ``has_*_permission``
methods return them, and views hand them to templates (a ``can`` dict), so the web UI, the
admin and the API cannot disagree, and no page offers an action that would be refused.

Roles: every active user is a clinician; members of the Reviewers group are also reviewers;
admins (active staff users) are reviewers too. An inactive or anonymous user may do nothing.

Lists and 404s need the patient rules as queries: ``PatientQuerySet.visible_to`` and
``editable_by`` (``cases.models``) are their database form. The per-object checks here use
them through the object's own model, so this module imports no app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from accounts.models import ApiToken, User
    from cases.models import Lesion, LesionImage, Patient
    from notifications.models import Notification

    AnyUser = User | AnonymousUser


def _is_active(user: AnyUser) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def _is_owner_or_admin(user: AnyUser, patient: Patient) -> bool:
    return _is_active(user) and (user.is_admin or patient.owner_id == user.pk)


# Roles ----------------------------------------------------------------------------------


def is_admin(*, user: AnyUser) -> bool:
    """The admin role (an active staff user): the admin site, and every patient."""
    return _is_active(user) and user.is_admin


def can_review(*, user: AnyUser) -> bool:
    """Reviewers (the Reviewers group) and admins: the review queue, review decisions, the
    outcomes, and the reviewers' admin pages."""
    return _is_active(user) and user.is_reviewer


def can_view_audit_log(*, user: AnyUser) -> bool:
    """The access log (admin, API and its CSV exports): admins only."""
    return is_admin(user=user)


# Patients and their records -------------------------------------------------------------


def can_view_patient(*, user: AnyUser, patient: Patient) -> bool:
    """The access rule (``visible_to``) for one patient: admins and reviewers see every
    patient, a clinician those they own or that are shared with them."""
    if not _is_active(user):
        return False
    if patient.owner_id == user.pk:  # the common case, without a query
        return True
    return type(patient).objects.visible_to(user).filter(pk=patient.pk).exists()


def can_edit_patient(*, user: AnyUser, patient: Patient) -> bool:
    """Change a patient's details and open lesion cases: the care team (owner, shared
    clinicians) and admins (``editable_by``). Reviewers see every patient but change nothing."""
    if not _is_active(user):
        return False
    if patient.owner_id == user.pk:  # the common case, without a query
        return True
    return type(patient).objects.editable_by(user).filter(pk=patient.pk).exists()


def can_edit_lesion(*, user: AnyUser, lesion: Lesion) -> bool:
    """Change a lesion case and upload its images: whoever may change its patient."""
    return can_edit_patient(user=user, patient=lesion.patient)


def can_manage_sharing(*, user: AnyUser, patient: Patient) -> bool:
    """Decide who else may see and change a patient (share, revoke): the owner and admins."""
    return _is_owner_or_admin(user, patient)


def can_delete_patient(*, user: AnyUser, patient: Patient) -> bool:
    """Delete a patient with all their lesions, images and results: the owner and admins
    (the same people who decide who may see the patient; a shared clinician may not)."""
    return _is_owner_or_admin(user, patient)


def can_assess_change(*, user: AnyUser, lesion: Lesion) -> bool:
    """Recording a change checklist on two visits: the care team, admins and reviewers."""
    return can_review(user=user) or can_edit_lesion(user=user, lesion=lesion)


def can_rerun_prediction(*, user: AnyUser, image: LesionImage) -> bool:
    """Ask for a new analysis of a stored image: the patient's owner and admins."""
    return _is_owner_or_admin(user, image.lesion.patient)


def can_see_withheld_result(*, user: AnyUser) -> bool:
    """See the figures (probabilities, class, risk, heatmap) of a result the quality gate
    withheld (``Prediction.is_withheld``: it could not judge the image): admins only, for audit.
    Clinicians and reviewers see the gate's reasons and how to retake the image instead."""
    return is_admin(user=user)


def can_export_patient_records(*, user: AnyUser, patient: Patient) -> bool:
    """Take a patient's records out of SkinPortal (PDF report, FHIR bundle, DICOM files):
    whoever may see them (the access rule). Exports never carry withheld results' figures, for
    anyone; each export is in the access log."""
    return can_view_patient(user=user, patient=patient)


def can_record_histopathology(*, user: AnyUser, lesion: Lesion) -> bool:
    """Attach a histopathology result to a lesion: reviewers, admins and the care team."""
    return can_review(user=user) or can_edit_lesion(user=user, lesion=lesion)


# Accounts and notifications -------------------------------------------------------------


def can_revoke_api_token(*, user: AnyUser, token: ApiToken) -> bool:
    """Revoke an API token: its owner and admins."""
    return _is_active(user) and (token.user_id == user.pk or user.is_admin)


def can_mark_notification_read(*, user: AnyUser, notification: Notification) -> bool:
    """A notification is its recipient's alone (admins too read only their own)."""
    return _is_active(user) and notification.recipient_id == user.pk
