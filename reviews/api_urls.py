"""API routes of case review, included under /api/v1/ by skinportal/api_urls.py."""

from django.urls import path

from core.api import IdRouter

from .api import HistopathologyViewSet, OutcomesView, ReviewQueueViewSet, ReviewViewSet

router = IdRouter()
router.register("review-queue", ReviewQueueViewSet, basename="review-queue")
router.register("reviews", ReviewViewSet, basename="review")
router.register("histopathology", HistopathologyViewSet, basename="histopathology")

urlpatterns = [
    path("outcomes/", OutcomesView.as_view(), name="outcomes"),
    *router.urls,
]
