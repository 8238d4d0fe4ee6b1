"""One clinician's day in a real browser: headless Chromium (Debian's) driven by Playwright."""

from __future__ import annotations

from cases.models import LesionImage

from .. import images
from ..factories import UserFactory
from .conftest import BROWSER_MARKS

pytestmark = BROWSER_MARKS


def test_log_in_create_patient_and_lesion_upload_and_see_image(live_server, browser_page, tmp_path, model_version):
    UserFactory(username="dana", first_name="Dana", last_name="Derm", password="correct-horse-battery")
    image_file = tmp_path / "visit-1.jpg"
    image_file.write_bytes(images.jpeg(640, 480, seed=5))
    page = browser_page

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    page.get_by_role("link", name="Register a patient").first.click()
    page.get_by_label("MRN").fill("MRN-2026-001")
    page.get_by_label("Given name").fill("Ana")
    page.get_by_label("Family name").fill("Silva")
    page.get_by_label("Date of birth").fill("1979-03-14")
    page.get_by_label("Sex").select_option("female")
    page.get_by_role("button", name="Register patient").click()
    page.get_by_role("heading", name="Silva, Ana").wait_for()

    page.get_by_role("link", name="Open a lesion case").click()
    page.get_by_label("Label").fill("mole left shoulder")
    page.get_by_label("Anatomic site").select_option("upper extremity")
    page.get_by_role("button", name="Open case").click()
    page.get_by_role("heading", name="mole left shoulder").wait_for()
    assert "decision support for clinicians only" in page.content()

    page.get_by_label("Image files").set_input_files(str(image_file))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("1 image stored.").wait_for()

    thumbnail = page.locator(".timeline img").first
    thumbnail.wait_for()
    # The thumbnail really loaded through the access-checked file view.
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert thumbnail.evaluate("img => img.naturalWidth") == 320

    thumbnail.click()
    page.get_by_role("heading", name="Image").wait_for()
    full = page.locator(".image-frame img").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=full.element_handle())
    assert full.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [640, 480]

    stored = LesionImage.objects.get()
    assert stored.original_filename == "visit-1.jpg"
    assert (stored.width, stored.height) == (640, 480)

    # The analysis ran in-process (embedded default) when the upload committed.
    page.get_by_text("Risk:").wait_for()
    layer = page.locator("#heatmap-layer")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=layer.element_handle())
    page.get_by_label("Heatmap opacity").fill("0.8")
    assert layer.evaluate("img => getComputedStyle(img).opacity") == "0.8"
    page.get_by_label("NV", exact=True).check()
    page.wait_for_function("img => img.src.includes('class=NV') && img.complete", arg=layer.element_handle())


def test_the_image_page_updates_itself_when_the_prediction_finishes(live_server, browser_page, model_version):
    from inference import services

    from ..factories import LesionImageFactory, PredictionFactory

    owner = UserFactory(username="dana", password="correct-horse-battery")
    image = LesionImageFactory(lesion__patient__owner=owner)
    prediction = PredictionFactory(image=image, model_version=model_version)
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/?next={image.get_absolute_url()}")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Queued with").wait_for()

    services.prediction_run(prediction_id=prediction.pk)  # as a worker would, elsewhere

    page.get_by_text("Risk:").wait_for(timeout=20_000)  # no reload: the page polled
    assert page.locator("[data-poll-url]").count() == 0


def test_an_image_the_gate_rejects_shows_why_and_no_result(live_server, browser_page, tmp_path, model_version):
    """A picture the model cannot judge (here too small and out of focus) is analysed in-process
    on upload, and the image page says why and how to retake it, with no risk, class or heatmap."""
    from ..factories import LesionFactory

    owner = UserFactory(username="dana", password="correct-horse-battery")
    lesion = LesionFactory(patient__owner=owner, label="mole left shoulder")
    image_file = tmp_path / "thumbnail.jpg"
    image_file.write_bytes(images.jpeg(64, 48, seed=5))  # rejected: too small and out of focus
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/?next={lesion.get_absolute_url()}")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Image files").set_input_files(str(image_file))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("1 image stored.").wait_for()

    page.locator(".timeline img").first.click()
    page.get_by_text("No result: too small to assess").wait_for()
    content = page.content()
    assert "Take the picture at the camera's full resolution" in content
    assert "Risk:" not in content and page.locator("#heatmap-layer").count() == 0
