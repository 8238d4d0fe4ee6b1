from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: named permission checks, admin base classes, private file
    serving, the change-history registry and the on-commit task sender. It imports no domain
    app; the apps import it and register with it."""

    name = "core"
    verbose_name = "Core"
