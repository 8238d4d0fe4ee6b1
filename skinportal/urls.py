from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "SkinPortal administration"
admin.site.site_title = "SkinPortal admin"
admin.site.index_title = "Case review and administration"

urlpatterns = [
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("skinportal.api_urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("interop.urls")),
    path("", include("reviews.urls")),
    path("", include("inference.urls")),
    path("", include("cases.urls")),
]
