"""API routes of the notifications app, included under /api/v1/ by skinportal/api_urls.py."""

from core.api import IdRouter

from .api import NotificationViewSet

router = IdRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = router.urls
