"""Load benchmark: a live stack driven by concurrent API clients. Prints measured figures.

    .venv/bin/python bench/load.py [--clients 16] [--images 200] [--web-workers 3] [--concurrency 2]
                                   [--workers 1] [--storage local|s3]

Starts the production profile on this machine: gunicorn (``skinportal.wsgi``), a Celery worker,
PostgreSQL ($BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/skinportal_load,
recreated) and Redis ($BENCH_REDIS_URL, default redis://127.0.0.1:6379/13, for the broker and the
throttles' cache). Each of N clients (a clinician with an API token, one lesion of their own)
uploads M real ISIC images (../shared/data/isic/images; generated lesion-like images without
it) one after another over HTTP. Reported: uploads/s, upload latency and upload → result
latency (p50, p95, p99), errors by status, and then the check that every stored image has
exactly one prediction and that it succeeded (nothing lost, nothing duplicated).

Scale-out (``--storage s3 --workers 2``): the files go to a bucket on an S3-compatible server
(moto's server mode, started here on a free port), and N Celery worker processes each get a
models folder of their own: web and workers share nothing but the broker, the database and the
bucket, as on separate hosts. Then every stored image and its heatmap is fetched through the API,
which must answer with a signed URL of the bucket (302) that serves the file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inference import (  # noqa: E402
    celery_worker_command,
    ensure_database,
    load_images,
    percentile,
    wait_for_worker,
)

RESULT_TIMEOUT_SECONDS = 900


def stack_environment(
    *, database_url: str, redis_url: str, media_root: str, models_dir: Path, storage: dict[str, str] | None = None
) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "skinportal.settings.production",
        "DJANGO_SECRET_KEY": "load-benchmark-only-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on the loopback, no TLS proxy here
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url,
        "API_THROTTLE_UPLOADS": "1000000/hour",  # measure the stack, not the throttle
        "SKINPORTAL_STORAGE": "local",
        "SKINPORTAL_MEDIA_ROOT": media_root,
        "SKINPORTAL_MODELS_DIR": str(models_dir),
        "SKINPORTAL_EMAIL_NOTIFICATIONS": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        **(storage or {}),
    }


def start_s3_server(work: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    """moto's S3 server on a free port, a bucket on it, and the environment that points at it."""
    import socket

    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = start(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], environment={}, log=work / "s3.log"
    )
    endpoint = f"http://127.0.0.1:{port}"
    environment = {
        "SKINPORTAL_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "skinportal-load",
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "load-benchmark",
        "AWS_SECRET_ACCESS_KEY": "load-benchmark-secret",
    }
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-central-1",
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(
                Bucket="skinportal-load", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
            )
            return server, environment
        except Exception:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.3)


def own_models_dir(source: Path, target: Path) -> Path:
    """A copy of the models folder for one worker (a worker on another host has its own)."""
    import shutil

    shutil.copytree(source, target)
    return target


def check_signed_urls(
    base_url: str, accounts_images: list[tuple[str, int, int | None]], endpoint: str
) -> tuple[int, int]:
    """Fetch each (token, image, prediction)'s file and heatmap through the API: each must be a 302
    to a signed URL of the bucket that serves a JPEG. (served, checked). A prediction whose result
    the quality gate withheld has no heatmap for its owner (409 by design): pass None for it."""
    import requests

    served = checked = 0
    for token, image_id, prediction_id in accounts_images:
        urls = [f"{base_url}/api/v1/images/{image_id}/file/"]
        if prediction_id is not None:
            urls.append(f"{base_url}/api/v1/predictions/{prediction_id}/heatmap/")
        for url in urls:
            checked += 1
            response = requests.get(url, headers={"Authorization": f"Token {token}"}, allow_redirects=False, timeout=30)
            location = response.headers.get("Location", "")
            if response.status_code != 302 or not location.startswith(endpoint) or "Signature" not in location:
                continue
            fetched = requests.get(location, timeout=30)
            if fetched.status_code == 200 and fetched.content[:2] == b"\xff\xd8":
                served += 1
    return served, checked


def prepare(environment: dict[str, str], *, model_path: Path, clients: int) -> list[tuple[str, int]]:
    """Migrate, register the model, create the clinicians with a token and a lesion each."""
    os.environ.update(environment)
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import User
    from accounts.services import api_token_create
    from cases import services as case_services
    from inference.services import model_version_register
    from skinportal.celery import app as celery_app

    call_command("migrate", verbosity=0)
    model_version_register(keras_path=model_path, activate=True)
    celery_app.control.purge()
    accounts = []
    for number in range(clients):
        user = User.objects.create_user(f"load{number}", password=f"load-password-{number}-xyz")
        _, token = api_token_create(user=user, name="load benchmark", lifetime_days=1)
        patient = case_services.patient_create(
            owner=user,
            identifier=f"LOAD-{number:03d}",
            given_name="Load",
            family_name=f"Client {number}",
            date_of_birth=date(1970, 1, 1),
        )
        lesion = case_services.lesion_create(patient=patient, actor=user, label=f"load lesion {number}")
        accounts.append((token, lesion.pk))
    return accounts


def start(command: list[str], *, environment: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **environment},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def lower_priority(process: subprocess.Popen, niceness: int) -> str:
    """Lower the CPU priority of a process started in its own session, and of its children.

    With the kernel's autogroup scheduling (Linux's default on desktops and many servers) the
    CPU is shared fairly between sessions first, so a process's own nice value only orders it
    within its session; the session's share is set through /proc/<pid>/autogroup instead.
    Returns how it was done, for the report."""
    enabled = Path("/proc/sys/kernel/sched_autogroup_enabled")
    if enabled.is_file() and enabled.read_text().strip() == "1":
        Path(f"/proc/{process.pid}/autogroup").write_text(str(niceness))
        return f"autogroup nice {niceness}"
    return f"nice {niceness}"


def wait_for_http(url: str, *, process: subprocess.Popen, log: Path) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            requests.get(url, timeout=10)  # the first request also imports the whole app
            return
        except requests.RequestException:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


COMPONENTS = (
    ("web (gunicorn)", "gunicorn"),
    ("worker (celery)", "celery"),
    ("PostgreSQL", "postgres"),
    ("Redis", "redis-server"),
)


def cpu_seconds_by_component() -> dict[str, float]:
    """CPU time (user + system) used so far by the live processes of each component (Linux /proc);
    the load clients are this process."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {name: 0.0 for name, _ in COMPONENTS} | {"load clients (this process)": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        if int(entry.name) == os.getpid():
            totals["load clients (this process)"] += seconds
            continue
        for name, marker in COMPONENTS:
            if marker in command:
                totals[name] += seconds
                break
    return totals


def run_client(base_url: str, token: str, lesion_id: int, images: list[tuple[str, bytes]]) -> list[dict]:
    """Upload every image in turn; one record per upload."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    records = []
    for name, data in images:
        started = time.time()
        try:
            response = session.post(
                f"{base_url}/api/v1/images/",
                data={"lesion": lesion_id, "modality": "dermoscopic"},
                files={"file": (name, data, "image/jpeg")},
                timeout=60,
            )
            status = response.status_code
            body = response.json() if status == 201 else None
        except requests.RequestException as error:
            status, body = f"{type(error).__name__}", None
        records.append(
            {
                "started": started,
                "latency": time.time() - started,
                "status": status,
                "image_id": body["id"] if body else None,
            }
        )
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--images", type=int, default=200, help="uploads per client")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (pool size of each worker)")
    parser.add_argument("--workers", type=int, default=1, help="Celery workers, each with a models folder of its own")
    parser.add_argument("--storage", choices=["local", "s3"], default="local", help="s3: a bucket on moto's S3 server")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="run the Celery worker at this niceness (e.g. 10: uploads get the CPU first on shared cores)",
    )
    parser.add_argument("--model", type=Path, default=next((ROOT / "models").glob("*.keras"), None))
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument(
        "--require-complete",
        action="store_true",
        help="exit 1 unless nothing was lost, no answer was 5xx and (S3) every file came through a signed URL (CI)",
    )
    arguments = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/skinportal_load")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    work = Path(tempfile.mkdtemp(prefix="skinportal-load-"))
    s3_server, storage = start_s3_server(work) if arguments.storage == "s3" else (None, {})
    environment = stack_environment(
        database_url=database_url,
        redis_url=redis_url,
        media_root=str(work / "media"),
        models_dir=arguments.model.parent,
        storage=storage,
    )
    ensure_database(database_url)
    subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], check=True, capture_output=True)
    accounts = prepare(environment, model_path=arguments.model, clients=arguments.clients)
    image_bytes = load_images(arguments.images)
    images = [(f"visit-{n:04d}.jpg", data) for n, data in enumerate(image_bytes)]

    base_url = f"http://127.0.0.1:{arguments.port}"
    web = start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "skinportal.wsgi",
            f"--bind=127.0.0.1:{arguments.port}",
            f"--workers={arguments.web_workers}",
            "--timeout=120",
            "--access-logfile=-",
        ],
        environment=environment,
        log=work / "gunicorn.log",
    )
    workers = []
    for number in range(arguments.workers):
        worker_environment = {
            **environment,
            # Its own models folder (and, with S3, no folder shared with anyone).
            "SKINPORTAL_MODELS_DIR": str(own_models_dir(arguments.model.parent, work / f"worker-{number}-models")),
            "SKINPORTAL_MEDIA_ROOT": str(work / "media" if arguments.storage == "local" else work / f"worker-{number}"),
        }
        workers.append(
            start(
                [
                    *(["nice", "-n", str(arguments.worker_nice)] if arguments.worker_nice else []),
                    *celery_worker_command(concurrency=arguments.concurrency),
                    "--loglevel=INFO",  # one line per task: which worker did what
                    "-n",
                    f"load-{number}@%h",
                ],
                environment=worker_environment,
                log=work / f"worker-{number}.log",
            )
        )
    worker_priority = (
        ", ".join(lower_priority(worker, arguments.worker_nice) for worker in workers) if arguments.worker_nice else ""
    )
    try:
        wait_for_http(f"{base_url}/api/v1/me/", process=web, log=work / "gunicorn.log")
        for number, worker in enumerate(workers):
            wait_for_worker(process=worker, log=work / f"worker-{number}.log", timeout=120)
        lock = threading.Lock()
        records: list[dict] = []
        cpu_before = cpu_seconds_by_component()
        began = time.time()
        with ThreadPoolExecutor(max_workers=arguments.clients) as pool:
            futures = [pool.submit(run_client, base_url, token, lesion, images) for token, lesion in accounts]
            for future in futures:
                with lock:
                    records.extend(future.result())
        upload_seconds = time.time() - began
        cpu_during_uploads = cpu_seconds_by_component()

        from inference.models import Prediction, PredictionStatus

        stored = [r["image_id"] for r in records if r["image_id"] is not None]
        deadline = time.monotonic() + RESULT_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            pending = Prediction.objects.filter(image_id__in=stored, status__in=["queued", "running"]).count()
            if not pending:
                break
            time.sleep(1)
        all_done_seconds = time.time() - began
        predictions = {}
        for image_id, status, finished in Prediction.objects.filter(image_id__in=stored).values_list(
            "image_id", "status", "finished_at"
        ):
            predictions.setdefault(image_id, []).append((status, finished))
        signed, withheld = (0, 0), 0
        if arguments.storage == "s3":
            token_of = {lesion: token for token, lesion in accounts}
            rows = Prediction.objects.filter(image_id__in=stored).values_list(
                "image_id", "pk", "image__lesion_id", "quality_status"
            )
            withheld = sum(1 for *_, quality in rows if quality == "rejected")
            signed = check_signed_urls(
                base_url,
                [
                    (token_of[lesion], image_id, None if quality == "rejected" else prediction_id)
                    for image_id, prediction_id, lesion, quality in rows
                ],
                storage["AWS_S3_ENDPOINT_URL"],
            )
    finally:
        processes = [web, *workers, *([s3_server] if s3_server else [])]
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)

    (work / "uploads.json").write_text(json.dumps(records))  # one record per upload, for a closer look
    upload_ms = [r["latency"] * 1000 for r in records if r["status"] == 201]
    by_status: dict[str, int] = {}
    for r in records:
        by_status[str(r["status"])] = by_status.get(str(r["status"]), 0) + 1
    started_of = {r["image_id"]: r["started"] for r in records if r["image_id"] is not None}
    result_ms = [
        (rows[0][1].timestamp() - started_of[image_id]) * 1000
        for image_id, rows in predictions.items()
        if len(rows) == 1 and rows[0][0] == PredictionStatus.SUCCEEDED
    ]
    exactly_one_succeeded = sum(
        1 for image_id in stored if [s for s, _ in predictions.get(image_id, [])] == [PredictionStatus.SUCCEEDED]
    )
    server_errors = sum(count for status, count in by_status.items() if status.startswith("5"))
    total = arguments.clients * arguments.images

    def line(name: str, values: list[float]) -> str:
        if not values:
            return f"| {name} | – | – | – |"
        return (
            f"| {name} | {percentile(values, 50):.0f} ms | {percentile(values, 95):.0f} ms "
            f"| {percentile(values, 99):.0f} ms |"
        )

    print(
        f"Load: {arguments.clients} clients x {arguments.images} uploads = {total}; gunicorn "
        f"{arguments.web_workers} sync workers, {arguments.workers} Celery worker(s) of concurrency "
        f"{arguments.concurrency} (models folder each)"
        f"{f' at {worker_priority}' if worker_priority else ''}, "
        f"PostgreSQL, Redis, {'S3 (moto server) bucket' if arguments.storage == 's3' else 'local media folder'}; "
        f"{os.cpu_count()} CPU cores; images: "
        f"{'real ISIC' if (ROOT.parent / 'shared').is_dir() else 'generated'}"
    )
    print(f"uploads/s: {len(upload_ms) / upload_seconds:.1f} ({len(upload_ms)} stored in {upload_seconds:.1f} s)")
    print(f"all results in: {all_done_seconds:.1f} s after the first upload")
    print("| latency | p50 | p95 | p99 |\n| --- | ---: | ---: | ---: |")
    print(line("upload (request → 201)", upload_ms))
    print(line("upload → prediction succeeded", result_ms))
    print(f"responses by status: {dict(sorted(by_status.items()))}; 5xx: {server_errors}")
    print(
        f"stored images with exactly one succeeded prediction: {exactly_one_succeeded} of {len(stored)}; "
        f"lost (stored, no succeeded prediction): {len(stored) - exactly_one_succeeded}"
    )
    for number in range(arguments.workers):
        tasks = (work / f"worker-{number}.log").read_text(errors="replace").count("succeeded in")
        print(f"worker {number}: {tasks} task runs")
    if arguments.storage == "s3":
        print(
            f"files served through signed bucket URLs: {signed[0]} of {signed[1]} (every image, and the heatmap "
            f"of every result not withheld by the quality gate; {withheld} withheld: 409 by design)"
        )
    print("CPU while the clients uploaded (ms of CPU per stored upload, all cores):")
    for name, seconds in cpu_during_uploads.items():
        print(f"  {name}: {(seconds - cpu_before.get(name, 0.0)) * 1000 / max(1, len(upload_ms)):.1f} ms")
    print(f"logs: {work}")
    complete = server_errors == 0 and exactly_one_succeeded == len(stored) == total and signed[0] == signed[1]
    if arguments.require_complete and not complete:
        print("INCOMPLETE: something was lost, answered 5xx or not served through a signed URL")
        sys.exit(1)


if __name__ == "__main__":
    main()
