"""Django's ``flush`` (empty every table), made to work with the access log on SQLite.

The access log's rows are insert-only: triggers refuse UPDATE and DELETE of a row (migration
``audit/0002``). On PostgreSQL flush is one ``TRUNCATE`` of every table, which fires no row
triggers, so it needs nothing. On SQLite flush is a ``DELETE FROM`` per table, which the
triggers refuse; this command drops them inside the flush's own transaction and puts them back,
exactly as the migration made them, before it commits. Nothing else can delete a row: flush
wipes the whole database (the test suite flushes between transactional tests), it is not a way
to edit the log.
"""

from __future__ import annotations

from django.core.management.commands import flush
from django.db import connections, transaction

from audit.models import AccessLog


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        if options["interactive"]:
            confirm = input(
                f'This will IRREVERSIBLY DESTROY all data in the "{connection.settings_dict["NAME"]}" database, '
                "the access log included.\nType 'yes' to continue, or 'no' to cancel: "
            )
            if confirm != "yes":
                self.stdout.write("Flush cancelled.")
                return None
            options = {**options, "interactive": False}
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [AccessLog._meta.db_table],
            )
            triggers = cursor.fetchall()
            for name, _sql in triggers:
                cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
            super().handle(**options)
            for _name, sql in triggers:
                cursor.execute(sql)
        return None
