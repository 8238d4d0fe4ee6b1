"""The admin's picture columns under the site's Content-Security-Policy (style-src 'self'): no
inline style (the browser would ignore it and show 600-px images over the status, class and risk
columns); their size comes from static/css/admin.css, which every admin page links; each picture
link is named by its picture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from ..factories import PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/admin/inference/prediction/", "/admin/cases/lesionimage/"])
def test_admin_picture_lists_are_sized_by_a_stylesheet_and_their_links_are_named(admin_client_, model_version, path):
    PredictionFactory(model_version=model_version, succeeded=True)
    html = admin_client_.get(path).content.decode()
    links = re.findall(r'<a [^>]*class="admin-thumb[^"]*"[^>]*>\s*<img [^>]*>', html)
    assert links, "the list shows its pictures"
    for link in links:
        assert "style=" not in link
        label = re.search(r'aria-label="([^"]+)"', link)
        assert label and label.group(1).strip(), link
    assert " style=" not in html.split('id="result_list"')[1].split("</table>")[0]
    assert '/static/css/admin.css"' in html


def test_the_admin_stylesheet_bounds_the_pictures():
    css = Path(finders.find("css/admin.css")).read_text()
    assert re.search(r"\.admin-thumb img \{[^}]*max-width: 80px", css)
    assert re.search(r"\.admin-thumb-large img \{[^}]*max-width: 320px", css)
