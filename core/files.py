"""Serving private files, after the caller has applied the access rule."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse, HttpResponseRedirect


def serve_private_file(stored_file) -> HttpResponse:
    """Stream a stored file, or redirect to a short-lived signed URL when the storage
    issues them (S3). Called only after the access rule has passed."""
    storage = stored_file.storage
    if getattr(storage, "querystring_auth", False):
        return HttpResponseRedirect(storage.url(stored_file.name))
    response = FileResponse(stored_file.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "no-store"  # patient images must not linger in shared browsers
    response["X-Content-Type-Options"] = "nosniff"
    return response
