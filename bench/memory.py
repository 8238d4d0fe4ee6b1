"""Memory benchmark: the peak memory one upload or one heatmap request adds to a web process,
for hostile and large files. Prints measured figures.

    .venv/bin/python bench/memory.py [--target-mb 300] [--only NAME ...]

Each case runs in a fresh Python process (the embedded default's settings on a throw-away SQLite
database and media folder, no model version active so an upload runs no prediction), which first
does one small upload and one heatmap request to import and warm everything, then measures one
request through Django's test client (the whole request: parsing, checks, storage, the access
log):

- ``peak RSS added``: the kernel's high-water mark of the process's resident memory during the
  request (``VmHWM``, reset just before it through ``/proc/self/clear_refs``) minus its resident
  memory before it. This counts everything: Pillow's and OpenCV's C buffers as much as Python's.
- ``tracemalloc peak``: what Python's allocator (and NumPy, which reports to it) peaked at during
  the request; Pillow's image buffers are not in it, which is why the RSS figure is the target.

Exit status 1 if any case exceeds ``--target-mb`` (the issue's 300 MB).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024


# The files --------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _encode(image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _textured(width: int, height: int, mode: str = "RGB"):
    """A picture with some texture (a JPEG of a flat colour would be unrealistically small)."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = (128 + 100 * np.sin(x / 37.0) * np.cos(y / 53.0)).astype(np.uint8)
    green = (96 + 80 * np.cos((x + y) / 71.0)).astype(np.uint8)
    blue = (64 + 60 * np.sin(y / 29.0)).astype(np.uint8)
    image = Image.fromarray(np.dstack([red, green, blue]), "RGB")
    del y, x, red, green, blue
    return image if mode == "RGB" else image.convert(mode)


def make_files(folder: Path) -> dict[str, Path]:
    """The nasty files, written once: name -> path."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    files: dict[str, bytes] = {}
    files["png-7000x7000-flat-rgb"] = _encode(Image.new("RGB", (7000, 7000), (180, 120, 90)), "PNG", optimize=True)
    files["png-7000x7000-flat-rgba"] = _encode(Image.new("RGBA", (7000, 7000), (180, 120, 90, 200)), "PNG")
    files["png-7000x7000-palette"] = _encode(Image.new("P", (7000, 7000), 3), "PNG")
    files["png-7000x7000-16bit-grey"] = _encode(Image.new("I;16", (7000, 7000), 30000), "PNG")
    big = _textured(8000, 6000)
    files["jpeg-8000x6000-48mp"] = _encode(big, "JPEG", quality=92)
    files["jpeg-8000x6000-progressive"] = _encode(big, "JPEG", quality=92, progressive=True)
    files["jpeg-4000x3000-12mp"] = _encode(big.resize((4000, 3000)), "JPEG", quality=92)
    files["heic-6000x4000-24mp"] = _encode(big.resize((6000, 4000)), "HEIF", quality=80)
    files["png-7000x7000-textured"] = _encode(_textured(7000, 7000), "PNG", compress_level=1)
    del big
    plain = _encode(Image.new("RGB", (16, 16), (1, 2, 3)), "PNG")
    bomb = _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"\0" * (64 * MB), 9))
    files["png-ztxt-bomb-64mb"] = plain[:33] + bomb + plain[33:]
    paths = {}
    for name, data in files.items():
        path = folder / f"{name}.{'heic' if name.startswith('heic') else name.split('-')[0]}"
        path.write_bytes(data)
        paths[name] = path
    return paths


UPLOAD_CASES = [
    "png-7000x7000-flat-rgb",
    "png-7000x7000-flat-rgba",
    "png-7000x7000-palette",
    "png-7000x7000-16bit-grey",
    "png-7000x7000-textured",
    "jpeg-8000x6000-48mp",
    "jpeg-8000x6000-progressive",
    "jpeg-4000x3000-12mp",
    "heic-6000x4000-24mp",
    "png-ztxt-bomb-64mb",
]
# Heatmap requests (a rendered class and opacity: not the stored overlay) of an image stored from
# the file: "as stored now" goes through the upload; "legacy" is stored as it is, as an image
# stored before the stored-pixel limit existed would be.
HEATMAP_CASES = [
    ("heatmap-of-jpeg-4000x3000-12mp", "jpeg-4000x3000-12mp", False),
    ("heatmap-of-8000x6000-as-stored-now", "jpeg-8000x6000-48mp", False),
    ("heatmap-of-legacy-stored-8000x6000-jpeg", "jpeg-8000x6000-48mp", True),
]


# One case, in its own process ---------------------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm_bytes() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def _measure(request) -> dict:
    gc.collect()
    before = _rss_bytes()
    _reset_hwm()
    tracemalloc.start()
    started = time.perf_counter()
    response = request()
    seconds = time.perf_counter() - started
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _hwm_bytes()
    return {
        "status": response.status_code,
        "peak_rss_added_mb": round((peak - before) / MB, 1),
        "tracemalloc_peak_mb": round(python_peak / MB, 1),
        "seconds": round(seconds, 2),
        "detail": "" if response.status_code < 400 else response.content.decode(errors="replace")[:200],
    }


def _setup(workdir: Path):
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "skinportal.settings.local",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "SKINPORTAL_MEDIA_ROOT": str(workdir / "media"),
            "SKINPORTAL_EMAIL_NOTIFICATIONS": "false",
            "DJANGO_LOG_LEVEL": "ERROR",
            "DJANGO_DEBUG": "false",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    from accounts.models import User
    from cases import services as case_services

    user = User.objects.create_user("bench", password="bench-password-123456")
    patient = case_services.patient_create(
        owner=user, identifier="BENCH-1", given_name="Bench", family_name="Memory", date_of_birth="1970-01-01"
    )
    return user, patient


def _upload(client, lesion_pk: int, name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/api/v1/images/",
        {"lesion": lesion_pk, "captured_on": "2026-01-02", "file": SimpleUploadedFile(name, data)},
    )


def _succeeded_prediction(image):
    """A succeeded prediction of ``image`` with stored class maps (no model run: rows and files)."""
    import numpy as np
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from inference.models import ModelVersion, Prediction, PredictionStatus

    version = ModelVersion.objects.first() or ModelVersion.objects.create(
        name="bench",
        version="1.0.0",
        file="bench.keras",
        sha256="0" * 64,
        runtime_file="bench.tflite",
        runtime_sha256="0" * 64,
        architecture="MobileNetV2",
        input_size=224,
        class_labels=["BCC", "MEL", "NV"],
        preprocessing="mobilenet_v2",
        gradcam_layer="out_relu",
        temperature=1.0,
        thresholds={"medium": 0.2, "high": 0.5},
    )
    prediction = Prediction(image=image, model_version=version, status=PredictionStatus.SUCCEEDED)
    raw = io.BytesIO()
    np.save(raw, np.random.default_rng(0).random((7, 7, 3), dtype=np.float32), allow_pickle=False)
    prediction.raw_map.save("map.npy", ContentFile(raw.getvalue()), save=False)
    prediction.heatmap.save("heatmap.jpg", ContentFile(b"not used"), save=False)
    prediction.probability_bcc, prediction.probability_mel, prediction.probability_nv = 0.2, 0.3, 0.5
    prediction.predicted_class, prediction.malignant, prediction.risk_level = "NV", False, "medium"
    prediction.heatmap_class, prediction.finished_at = "NV", timezone.now()
    prediction.quality_status, prediction.quality = "ok", {"status": "ok", "reasons": [], "scores": {}}
    prediction.save()
    return prediction


def _legacy_image(lesion, user, data: bytes):
    """An image row whose stored file is ``data`` as it is (stored before today's limits)."""
    from django.core.files.base import ContentFile
    from PIL import Image

    from cases.models import LesionImage

    with Image.open(io.BytesIO(data)) as opened:
        width, height = opened.size
    image = LesionImage(
        lesion=lesion, captured_on="2026-01-02", width=width, height=height, sha256="f" * 64, uploaded_by=user
    )
    image.file.save("image.jpg", ContentFile(data), save=False)
    image.thumbnail.save("thumbnail.jpg", ContentFile(data[:10]), save=False)
    image.source_format = "JPEG"
    image.original_filename = "legacy.jpg"
    image.save()
    return image


def run_case(kind: str, name: str, files: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="skinportal-memory-") as folder:
        user, patient = _setup(Path(folder))
        from django.test import Client

        from cases import services as case_services
        from cases.models import LesionImage

        client = Client()
        client.force_login(user)
        warm = case_services.lesion_create(patient=patient, actor=user, label="warm-up")
        small = _textured(600, 450)
        warm_response = _upload(client, warm.pk, "warm.jpg", _encode(small, "JPEG"))
        assert warm_response.status_code == 201, warm_response.content
        warm_prediction = _succeeded_prediction(LesionImage.objects.get(pk=warm_response.json()["id"]))
        client.get(f"/api/v1/predictions/{warm_prediction.pk}/heatmap/?class=MEL&opacity=0.5")
        _upload(client, warm.pk, "warm.png", _encode(small, "PNG"))

        lesion = case_services.lesion_create(patient=patient, actor=user, label="measured")
        if kind == "upload":
            data = Path(files[name]).read_bytes()
            result = _measure(lambda: _upload(client, lesion.pk, Path(files[name]).name, data))
            result["file_kb"] = round(len(data) / 1024)
            return result
        _, source, legacy = next(case for case in HEATMAP_CASES if case[0] == name)
        data = Path(files[source]).read_bytes()
        if legacy:
            image = _legacy_image(lesion, user, data)
        else:
            response = _upload(client, lesion.pk, Path(files[source]).name, data)
            assert response.status_code == 201, response.content
            image = LesionImage.objects.get(pk=response.json()["id"])
        prediction = _succeeded_prediction(image)
        url = f"/api/v1/predictions/{prediction.pk}/heatmap/?class=MEL&opacity=0.6"
        result = _measure(lambda: client.get(url))
        result["stored_image"] = f"{image.width}×{image.height}"
        again = time.perf_counter()
        cached = client.get(url)
        result["cached_repeat_seconds"] = round(time.perf_counter() - again, 3)
        result["cached_repeat_status"] = cached.status_code
        return result


# The parent: one process per case, a table ---------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target-mb", type=float, default=300.0)
    parser.add_argument("--only", nargs="*", default=None, help="case names to run (default: all)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "NAME", "FILES_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, name, files_json = args.child
        print(json.dumps(run_case(kind, name, json.loads(Path(files_json).read_text()))))
        return 0

    cases = [("upload", name) for name in UPLOAD_CASES] + [("heatmap", name) for name, _, _ in HEATMAP_CASES]
    if args.only:
        cases = [case for case in cases if case[1] in args.only]
    with tempfile.TemporaryDirectory(prefix="skinportal-memory-files-") as folder:
        paths = make_files(Path(folder))
        files_json = Path(folder) / "files.json"
        files_json.write_text(json.dumps({name: str(path) for name, path in paths.items()}))
        print(f"{'case':45} {'file':>9} {'status':>6} {'peak RSS added':>15} {'tracemalloc':>12} {'time':>7}")
        worst = 0.0
        for kind, name in cases:
            child = subprocess.run(
                [sys.executable, __file__, "--child", kind, name, str(files_json)],
                capture_output=True,
                text=True,
                cwd=ROOT,
                check=False,
            )
            if child.returncode != 0:
                print(f"{name:45} FAILED\n{child.stderr[-2000:]}")
                return 2
            result = json.loads(child.stdout.strip().splitlines()[-1])
            size = f"{result['file_kb']} KB" if "file_kb" in result else result.get("stored_image", "")
            print(
                f"{kind + ': ' + name:45} {size:>9} {result['status']:>6} {result['peak_rss_added_mb']:>12.1f} MB "
                f"{result['tracemalloc_peak_mb']:>9.1f} MB {result['seconds']:>6.2f}s"
                + (
                    f"  (same request again: {result['cached_repeat_seconds']} s)"
                    if "cached_repeat_seconds" in result
                    else ""
                )
                + (f"  {result['detail']}" if result["detail"] else "")
            )
            worst = max(worst, result["peak_rss_added_mb"])
        verdict = "within" if worst <= args.target_mb else "OVER"
        print(
            f"\nworst peak RSS added by one request: {worst:.1f} MB ({verdict} the target of {args.target_mb:.0f} MB)"
        )
        return 0 if worst <= args.target_mb else 1


if __name__ == "__main__":
    sys.exit(main())
