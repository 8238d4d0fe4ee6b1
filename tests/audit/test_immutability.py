"""Access log rows refuse change: in Python, and in the database whatever the caller (the
triggers of migration audit/0002, on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from audit import services
from audit.models import AccessLog, AccessLogImmutableError, Action, ObjectType

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def row(clinician) -> AccessLog:
    return services.access_log_record(
        action=Action.VIEW, user=clinician, object_type=ObjectType.PATIENT, object_id=7, patient_id=7
    )


def test_a_row_refuses_save_and_delete(row):
    row.action = Action.EXPORT
    with pytest.raises(AccessLogImmutableError):
        row.save()
    with pytest.raises(AccessLogImmutableError):
        row.delete()
    assert AccessLog.objects.get(pk=row.pk).action == Action.VIEW


def test_the_database_refuses_update_and_delete(row):
    with pytest.raises(IntegrityError, match="cannot be changed or deleted"), transaction.atomic():
        AccessLog.objects.filter(pk=row.pk).update(action=Action.EXPORT)
    with pytest.raises(IntegrityError, match="cannot be changed or deleted"), transaction.atomic():
        AccessLog.objects.filter(pk=row.pk).delete()
    table = AccessLog._meta.db_table
    for statement in (f"UPDATE {table} SET username = 'someone else'", f"DELETE FROM {table}"):  # noqa: S608
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert list(AccessLog.objects.values_list("pk", "action", "username")) == [(row.pk, Action.VIEW, "dana")]


def test_a_user_with_log_rows_cannot_be_deleted(row, clinician):
    # Users are deactivated, never deleted: their rows keep naming them.
    with pytest.raises(ProtectedError):
        clinician.delete()


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="SQLite's flush is audit's override; on PostgreSQL flush is TRUNCATE, which row triggers "
    "ignore (and which cannot run inside this test's transaction): the transactional tests' "
    "teardown flushes with access log rows there",
)
def test_flush_still_empties_the_database_and_keeps_the_triggers():
    """The test suite flushes between transactional tests (PostgreSQL: TRUNCATE, which row
    triggers ignore; SQLite: DELETE, for which audit's flush lifts them in its transaction).
    Here flush runs inside this test's transaction, which rolls it back, so that the data the
    migrations made (the Reviewers group) stays for the tests after this one; the transactional
    tests (the API contract test) flush for real, with access log rows."""
    user = UserFactory(username="erin")
    services.access_log_record(action=Action.LOGIN, user=user)
    call_command("flush", interactive=False, verbosity=0, reset_sequences=False)
    assert not AccessLog.objects.exists()

    user = UserFactory(username="erin")
    entry = services.access_log_record(action=Action.LOGIN, user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessLog.objects.filter(pk=entry.pk).delete()
    assert AccessLog.objects.filter(pk=entry.pk).exists()
