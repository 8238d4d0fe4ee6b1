"""API routes of the reviews app, included under /api/v1/ by skinportal/api_urls.py."""

urlpatterns: list = []
