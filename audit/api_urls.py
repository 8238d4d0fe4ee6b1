"""API routes of the audit app, included under /api/v1/ by skinportal/api_urls.py:
``audit-log/`` and ``audit-log/export/``."""

from rest_framework.routers import SimpleRouter

from .api import AccessLogViewSet

router = SimpleRouter()
router.register("audit-log", AccessLogViewSet, basename="audit-log")

urlpatterns = router.urls
