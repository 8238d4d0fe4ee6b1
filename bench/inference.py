"""Inference benchmark: prints a table of measured figures (nothing here is assumed).

    .venv/bin/python bench/inference.py [--model models/NAME.keras] [--images N] [--end-to-end N]

1. Per image, in this process: preprocessing, probabilities + Grad-CAM (LiteRT engine, one
   forward pass), overlay, total: median and p95 over real images from
   ../shared/data/isic/images when present (generated lesion-like images otherwise).
2. The same model the naive way, as a typical demo does it: Keras ``model.predict`` for the
   probabilities, then a separate Grad-CAM model run eagerly under a GradientTape.
3. The FLOP floor: 0.6 GFLOP (MobileNetV2 forward at 224 px, 0.3 G multiply-adds) divided by
   the float32 GFLOP/s of a NumPy matrix product measured in this run.
4. A real worker (``celery -A skinportal worker``) with Redis and PostgreSQL: peak RSS of a
   worker process with the model loaded, and upload stored → prediction succeeded latency
   (p50, p95; one image at a time) and throughput (a burst of images).

Needs PostgreSQL at $BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/skinportal_bench,
created if missing) and Redis at $CELERY_BROKER_URL (default redis://127.0.0.1:6379/14) for part 4;
``--end-to-end 0`` skips it.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_IMAGES = ROOT.parent / "shared" / "data" / "isic" / "images"
MOBILENETV2_GFLOP = 0.6

sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def row(name: str, values_ms: list[float]) -> str:
    return f"| {name} | {statistics.median(values_ms):.2f} | {percentile(values_ms, 95):.2f} |"


def load_images(count: int) -> list[bytes]:
    if SHARED_IMAGES.is_dir():
        files = sorted(SHARED_IMAGES.glob("*.jpg"))
        step = max(1, len(files) // count)
        return [path.read_bytes() for path in files[::step][:count]]
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    images = []
    for _ in range(count):
        height, width = 450, 600
        yy, xx = np.mgrid[0:height, 0:width]
        cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
        blob = np.exp(-(((yy - cy) / 90) ** 2 + ((xx - cx) / 90) ** 2))[..., None]
        pixels = (
            np.array([205, 150, 120]) * (1 - blob) + np.array([70, 40, 30]) * blob + rng.normal(0, 6, (450, 600, 3))
        )
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype("uint8")).save(buffer, "JPEG", quality=90)
        images.append(buffer.getvalue())
    return images


def matmul_gflops() -> float:
    import numpy as np

    size = 1024
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(10):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def setup_django(**environment: str) -> None:
    for key, value in environment.items():
        os.environ[key] = value
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skinportal.settings.local")
    os.environ.setdefault("DJANGO_DEBUG", "false")
    import django

    django.setup()


def in_process(model_path: Path, image_count: int) -> tuple[list[str], dict]:
    import numpy as np
    from PIL import Image

    from skinml import gate, heatmaps
    from skinml.engine import LiteRTEngine, normalised_cam, softmax
    from skinml.ood import OODStatistics
    from skinml.preprocessing import load_rgb, preprocess

    threads = int(os.environ.get("SKINPORTAL_INFERENCE_THREADS", "1"))
    engine = LiteRTEngine(model_path.with_suffix(".tflite"), num_threads=threads)
    statistics_path = model_path.with_suffix(".ood.npz")
    ood_statistics = OODStatistics.load(statistics_path) if statistics_path.is_file() else None
    images = load_images(image_count)
    timings: dict[str, list[float]] = {"preprocessing": [], "engine": [], "gate": [], "overlay": [], "total": []}
    for data in images * 2:  # the first pass warms up; only the second is kept
        start = time.perf_counter()
        rgb = load_rgb(data)
        tensor = preprocess(rgb, size=engine.input_size)
        after_preprocess = time.perf_counter()
        output = engine.run(tensor)
        probabilities = softmax(output.logits)
        cam = normalised_cam(output.class_maps, int(np.argmax(probabilities)))
        after_engine = time.perf_counter()
        gate.assess(rgb=np.asarray(rgb), logits=output.logits, features=output.features, statistics=ood_statistics)
        after_gate = time.perf_counter()
        heatmaps.encode_jpeg(heatmaps.overlay(np.asarray(rgb), cam))
        end = time.perf_counter()
        for key, value in (
            ("preprocessing", after_preprocess - start),
            ("engine", after_engine - after_preprocess),
            ("gate", after_gate - after_engine),
            ("overlay", end - after_gate),
            ("total", end - start),
        ):
            timings[key].append(value * 1000)
    for values in timings.values():
        del values[: len(images)]

    from skinml import keras_model

    model = keras_model.load_classifier(model_path)
    reference = keras_model.GradCamReference(model)
    tensors = [preprocess(Image.open(io.BytesIO(data)), size=engine.input_size) for data in images[:20]]
    naive = []
    for tensor in tensors * 2:
        start = time.perf_counter()
        probabilities = model.predict(tensor[None], verbose=0)[0]
        reference(tensor, int(np.argmax(probabilities)))
        naive.append((time.perf_counter() - start) * 1000)
    naive = naive[len(tensors) :]

    gflops = matmul_gflops()
    floor_ms = MOBILENETV2_GFLOP / gflops * 1000
    engine_median = statistics.median(timings["engine"])
    naive_median = statistics.median(naive)
    lines = [
        f"Images: {len(images)} ({'real ISIC images' if SHARED_IMAGES.is_dir() else 'generated'}); "
        f"model {model_path.name}; LiteRT threads {threads}",
        "",
        "| per image (ms) | median | p95 |",
        "| --- | ---: | ---: |",
        row("preprocessing (decode, EXIF, RGB, resize, scale)", timings["preprocessing"]),
        row("probabilities + Grad-CAM (LiteRT, one pass)", timings["engine"]),
        row(
            "quality gate (image checks"
            + (", energy + Mahalanobis" if ood_statistics is not None and output.features is not None else "")
            + "; target <= 5)",
            timings["gate"],
        ),
        row("overlay (upsample, colour map, blend, JPEG)", timings["overlay"]),
        row("total", timings["total"]),
        row("naive: Keras predict + eager GradientTape Grad-CAM", naive),
        "",
        f"FLOP floor: {MOBILENETV2_GFLOP} GFLOP / {gflops:.1f} GFLOP/s (NumPy float32 matmul) = {floor_ms:.2f} ms",
        f"probabilities + Grad-CAM = {engine_median / floor_ms:.2f} x the floor (target <= 3); "
        f"{naive_median / engine_median:.0f} x faster than the naive way (target >= 30)",
    ]
    return lines, {"engine_ms": engine_median, "floor_ms": floor_ms, "naive_ms": naive_median}


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def celery_worker_command(*, concurrency: int | str) -> list[str]:
    """The Celery worker both benchmarks start (without the start-up chatter between workers)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "skinportal",
        "worker",
        "--loglevel=WARNING",
        f"--concurrency={concurrency}",
        "--without-mingle",
        "--without-gossip",
    ]


def wait_for_worker(*, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Until the Celery worker answers a ping: its processes have started, so a benchmark
    measures a running stack, not its start-up."""
    from skinportal.celery import app as celery_app

    deadline = time.monotonic() + timeout
    while not celery_app.control.ping(timeout=0.5):
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"the Celery worker did not answer:\n{log.read_text()[-2000:]}")


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def end_to_end(model_path: Path, count: int) -> list[str]:
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/skinportal_bench")
    broker_url = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
    media_root = tempfile.mkdtemp(prefix="skinportal-bench-media-")
    ensure_database(database_url)
    environment = {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SKINPORTAL_MEDIA_ROOT": media_root,
        "SKINPORTAL_MODELS_DIR": str(model_path.parent),
        "DJANGO_DEBUG": "false",
        "DATABASE_CONN_MAX_AGE": "60",  # persistent connections, as in production
    }
    setup_django(**environment)
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from accounts.models import User
    from cases import services as case_services
    from cases.models import LesionImage
    from inference.models import Prediction, PredictionStatus
    from inference.services import model_version_register
    from skinportal.celery import app as celery_app

    call_command("migrate", verbosity=0)
    model_version_register(keras_path=model_path, activate=True)
    celery_app.control.purge()
    clinician = User.objects.create_user("bench", password="bench-password-123")
    patient = case_services.patient_create(
        owner=clinician, identifier="BENCH", given_name="Bench", family_name="Mark", date_of_birth=date(1970, 1, 1)
    )

    worker_log = Path(media_root) / "worker.log"
    concurrency = os.environ.get("BENCH_CONCURRENCY", "2")
    worker = subprocess.Popen(
        celery_worker_command(concurrency=concurrency),
        cwd=ROOT,
        env={**os.environ, **environment, "DJANGO_SETTINGS_MODULE": "skinportal.settings.local"},
        stdout=worker_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_worker(process=worker, log=worker_log)

        images = load_images(count)

        def store(lesion, data: bytes, name: str) -> int:
            return (
                case_services.image_upload(lesion=lesion, uploaded_by=clinician, files=[SimpleUploadedFile(name, data)])
                .stored[0]
                .pk
            )

        def new_lesion(label: str):
            return case_services.lesion_create(patient=patient, actor=clinician, label=label)

        def wait(image_ids: list[int]) -> None:
            deadline = time.monotonic() + 300
            pending = Prediction.objects.filter(image_id__in=image_ids).exclude(status=PredictionStatus.SUCCEEDED)
            while pending.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("predictions did not finish")
                time.sleep(0.002)

        # Warm-up, then latency: one image at a time, from "stored" (committed) to "succeeded".
        wait([store(new_lesion("warm-up"), images[0], "warm-up.jpg")])
        latency_lesion = new_lesion("latency")
        latencies = []
        for index, data in enumerate(images):
            stored_at = time.time()
            image_id = store(latency_lesion, data, f"{index}.jpg")
            wait([image_id])
            finished_at = Prediction.objects.get(image_id=image_id).finished_at.timestamp()
            latencies.append((finished_at - stored_at) * 1000)
        # Throughput: a burst of uploads (each its own transaction; a lesion per round, since a
        # lesion keeps one copy of identical pixels), until every prediction has succeeded.
        rounds = max(1, -(-200 // len(images)))
        start = time.time()
        burst_ids = []
        for round_number in range(rounds):
            lesion = new_lesion(f"burst {round_number}")
            burst_ids += [store(lesion, data, f"b{i}.jpg") for i, data in enumerate(images)]
        wait(burst_ids)
        finished = Prediction.objects.filter(image_id__in=burst_ids).order_by("-finished_at").first().finished_at
        throughput = len(burst_ids) / (finished.timestamp() - start)
        one_per_image = Prediction.objects.filter(image_id__in=burst_ids, status=PredictionStatus.SUCCEEDED).count()
        # The worker pool alone: re-run predictions of the stored images (queueing costs this
        # process almost nothing), from the first queued to the last succeeded.
        from inference.services import prediction_request

        rerun_ids = [
            prediction_request(image=image, requested_by=None).pk
            for image in LesionImage.objects.filter(pk__in=burst_ids)
        ]
        rerun = Prediction.objects.filter(pk__in=rerun_ids)
        deadline = time.monotonic() + 300
        while rerun.exclude(status=PredictionStatus.SUCCEEDED).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        span = rerun.order_by("-finished_at").first().finished_at - rerun.order_by("created_at").first().created_at
        pool_throughput = len(rerun_ids) / span.total_seconds()
        children = subprocess.run(
            ["pgrep", "-P", str(worker.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        child_rss = [vm_hwm_mb(int(pid)) for pid in children]
        parent_rss = vm_hwm_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return [
        "",
        f"Real worker: celery -A skinportal worker --concurrency={concurrency} (prefork), broker {broker_url}, "
        f"PostgreSQL {database_url.rsplit('@', 1)[-1]}",
        "",
        "| end to end | value |",
        "| --- | ---: |",
        f"| stored → succeeded, one at a time: p50 | {statistics.median(latencies):.0f} ms |",
        f"| stored → succeeded, one at a time: p95 | {percentile(latencies, 95):.0f} ms |",
        f"| burst of {len(burst_ids)} uploads (uploads and predictions on the same 2 cores): images per second | "
        f"{throughput:.1f} |",
        f"| worker pool alone, {len(rerun_ids)} queued predictions: images per second | {pool_throughput:.1f} |",
        f"| succeeded predictions in the burst | {one_per_image} of {len(burst_ids)} |",
        f"| peak RSS of a worker process with the model (max of {len(child_rss)}) | {max(child_rss):.0f} MB |",
        f"| peak RSS of the worker's parent process | {parent_rss:.0f} MB |",
        f"| peak RSS of this benchmark process (TensorFlow loaded, for comparison) | "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", type=Path, help="A .keras file with its .tflite and card (default: the bundled one)."
    )
    parser.add_argument("--images", type=int, default=100, help="Images for the in-process figures.")
    parser.add_argument("--end-to-end", type=int, default=40, help="Images for the real-worker figures (0: skip).")
    args = parser.parse_args()
    model_path = args.model or max((ROOT / "models").glob("*.keras"), key=lambda p: p.stat().st_mtime)
    lines, _ = in_process(model_path.resolve(), args.images)
    if args.end_to_end:
        lines += end_to_end(model_path.resolve(), args.end_to_end)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
