"""Access log rows are insert-only: triggers refuse every UPDATE and DELETE of a row, whoever
runs it (the app, the admin, a shell, raw SQL). Only dropping the triggers (a schema change, by
the database owner) lifts this.

PostgreSQL's TRUNCATE fires no row triggers, so ``manage.py flush`` (one TRUNCATE of every table)
still empties the database there; on SQLite flush deletes row by row, and
``audit/management/commands/flush.py`` lifts these triggers for the flush's own transaction.
"""

from django.db import migrations

POSTGRESQL_INSTALL = [
    """
    CREATE FUNCTION audit_accesslog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING
            MESSAGE = 'access log rows cannot be changed or deleted (' || TG_OP || ')',
            ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_accesslog_insert_only BEFORE UPDATE OR DELETE ON audit_accesslog
    FOR EACH ROW EXECUTE FUNCTION audit_accesslog_refuse_change()
    """,
]
POSTGRESQL_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_accesslog_insert_only ON audit_accesslog",
    "DROP FUNCTION IF EXISTS audit_accesslog_refuse_change()",
]

SQLITE_INSTALL = [
    """
    CREATE TRIGGER audit_accesslog_no_update BEFORE UPDATE ON audit_accesslog
    BEGIN SELECT RAISE(ABORT, 'access log rows cannot be changed or deleted (UPDATE)'); END
    """,
    """
    CREATE TRIGGER audit_accesslog_no_delete BEFORE DELETE ON audit_accesslog
    BEGIN SELECT RAISE(ABORT, 'access log rows cannot be changed or deleted (DELETE)'); END
    """,
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_accesslog_no_update",
    "DROP TRIGGER IF EXISTS audit_accesslog_no_delete",
]

STATEMENTS = {
    "postgresql": (POSTGRESQL_INSTALL, POSTGRESQL_REMOVE),
    "sqlite": (SQLITE_INSTALL, SQLITE_REMOVE),
}


def _run(schema_editor, index: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise NotImplementedError(f"The access log's insert-only triggers exist for PostgreSQL and SQLite, not {vendor}.")
    for statement in STATEMENTS[vendor][index]:
        schema_editor.execute(statement)


def install(apps, schema_editor):
    _run(schema_editor, 0)


def remove(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(install, remove),
    ]
