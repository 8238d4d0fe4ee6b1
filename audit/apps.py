from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Access log"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        from . import receivers

        user_logged_in.connect(receivers.record_login, dispatch_uid="audit.record_login")
        user_login_failed.connect(receivers.record_login_failed, dispatch_uid="audit.record_login_failed")
        user_logged_out.connect(receivers.record_logout, dispatch_uid="audit.record_logout")
