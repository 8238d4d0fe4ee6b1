"""API routes of the notifications app, included under /api/v1/ by skinportal/api_urls.py."""

urlpatterns: list = []
