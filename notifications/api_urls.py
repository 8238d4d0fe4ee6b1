"""API routes of the notifications app, included under /api/v1/ by skinportal/api_urls.py."""

from rest_framework.routers import SimpleRouter

from .api import NotificationViewSet

router = SimpleRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = router.urls
