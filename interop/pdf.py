"""PDF reports (WeasyPrint) from the Django template ``interop/report.html`` and the print
stylesheet ``static/css/report.css``.

WeasyPrint fetches nothing from the network: the report names its stylesheet and pictures with
two private schemes, ``skinportal-static:`` (a file of the static folders) and
``skinportal-media:`` (a stored file, read through the storage, and only the files this report
shows), and ``LocalFetcher`` refuses every other URL.
"""

from __future__ import annotations

import mimetypes

from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from PIL import ImageFile
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .selectors import PatientReport

# Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES to True, which would let
# a truncated upload through, silently padded (cases.imaging refuses them). Set it back: the
# report only shows stored files, which are complete.
ImageFile.LOAD_TRUNCATED_IMAGES = False

MEDIA_TYPE = "application/pdf"
STATIC_SCHEME = "skinportal-static:"
MEDIA_SCHEME = "skinportal-media:"
STYLESHEET = "css/report.css"


class LocalFetcher(URLFetcher):
    """Serves the static folders' files and the stored files named in ``media``; refuses the rest."""

    def __init__(self, *, media: set[str]) -> None:
        super().__init__(fail_on_errors=True)
        self.media = media

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        if url.startswith(STATIC_SCHEME) and ".." not in url:
            path = finders.find(url.removeprefix(STATIC_SCHEME).lstrip("/"))
            if not path:
                raise ValueError(f"No static file {url}")
            with open(path, "rb") as handle:
                body = handle.read()
            name = url
        elif url.startswith(MEDIA_SCHEME) and url.removeprefix(MEDIA_SCHEME) in self.media:
            name = url.removeprefix(MEDIA_SCHEME)
            with default_storage.open(name, "rb") as handle:
                body = handle.read()
        else:
            raise ValueError(f"The report may not fetch {url}")
        mime_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body=body, headers={"Content-Type": mime_type})


def _shown_files(report: PatientReport) -> set[str]:
    names = set()
    for lesion in report.lesions:
        for entry in lesion.images:
            names.add(entry.image.file.name)
            if entry.figures_shown and entry.prediction.heatmap:
                names.add(entry.prediction.heatmap.name)
    return names


def render(report: PatientReport, *, title: str) -> bytes:
    """The report as a PDF: every lesion of ``report`` with all its visits."""
    html = render_to_string(
        "interop/report.html",
        {
            "report": report,
            "title": title,
            "stylesheet": STATIC_SCHEME + STYLESHEET,
            "media_scheme": MEDIA_SCHEME,
        },
    )
    document = HTML(string=html, base_url=STATIC_SCHEME, url_fetcher=LocalFetcher(media=_shown_files(report)))
    return document.write_pdf()
