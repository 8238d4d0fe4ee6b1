"""What a view tells the access log about its answer (``audit.middleware`` writes the row):
which patients a list or search returned, and that a malformed request was refused (a probe).
Notes are set on Django's request (DRF's ``Request`` wraps it), so any layer may add them."""

from __future__ import annotations

from collections.abc import Iterable

PATIENTS_SHOWN = "skinportal_patients_shown"
PROBE = "skinportal_probe"


def _django_request(request):
    return getattr(request, "_request", request)


def note_patients_shown(request, patient_ids: Iterable[int | None]) -> None:
    """The patients whose data this answer holds (a page of a list, a search's results)."""
    shown = getattr(_django_request(request), PATIENTS_SHOWN, None) or set()
    shown.update(int(i) for i in patient_ids if i is not None)
    setattr(_django_request(request), PATIENTS_SHOWN, shown)


def patients_shown(request) -> set[int] | None:
    """What the view noted, or None if it noted nothing."""
    return getattr(request, PATIENTS_SHOWN, None)


def note_probe(request, reason: str) -> None:
    """This request was malformed and refused with 4xx (a body too large or too deep, too many
    parts, an id no row can have)."""
    setattr(_django_request(request), PROBE, reason)


def probe_reason(request) -> str | None:
    return getattr(request, PROBE, None)


def note_listed(request, *, objects, patient_field: str) -> None:
    """Note the patients of ``objects`` (model instances of one model, e.g. a page of a list):
    ``patient_field`` is the lookup from that model to its patient's id (``"pk"`` for patients,
    ``"lesion__patient_id"`` for images). One query."""
    objects = list(objects)
    if not objects:
        note_patients_shown(request, [])
        return
    model = type(objects[0])
    ids = model._base_manager.filter(pk__in=[o.pk for o in objects]).values_list(patient_field, flat=True)
    note_patients_shown(request, ids)


LOGIN_ADDRESS_LOCKED = "skinportal_login_address_locked"


def note_login_address_locked(request) -> None:
    """A login was refused because its client address has failed too many logins lately."""
    setattr(request, LOGIN_ADDRESS_LOCKED, True)
    if hasattr(request, "_request"):
        setattr(request._request, LOGIN_ADDRESS_LOCKED, True)


def login_address_locked(request) -> bool:
    return bool(getattr(request, LOGIN_ADDRESS_LOCKED, False))
