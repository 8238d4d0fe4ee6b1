"""PDF report benchmark: prints the render time of a lesion report (measured, nothing assumed).

    .venv/bin/python bench/report.py [--visits 5] [--runs 10] [--size 1024x768] [--out report.pdf]

Builds, in a throwaway test database (SQLite in memory unless DATABASE_URL says otherwise), a
lesion followed over ``--visits`` visits, each with a dermoscopic image of ``--size`` pixels,
its succeeded result and heatmap, a review and a histopathology result (the factories' data),
then times ``interop.exports.lesion_report_pdf`` (the selector, the template and WeasyPrint:
everything the endpoint does but the HTTP layer): the first render (fonts loaded in this
process) and the median and worst of the following ones. Target: under 2 s for five visits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--size", default="1024x768", help="image width x height in pixels")
    parser.add_argument("--out", type=Path, help="write the last PDF here")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skinportal.settings.test")
    os.environ.setdefault("SKINPORTAL_MEDIA_ROOT", tempfile.mkdtemp(prefix="skinportal-bench-report-"))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from interop import exports
        from tests.factories import lesion_with_visits

        lesion = lesion_with_visits(visits=args.visits, image_size=(width, height))
        owner = lesion.patient.owner
        timings = []
        for _ in range(args.runs + 1):
            started = time.perf_counter()
            export = exports.lesion_report_pdf(user=owner, lesion_id=lesion.pk)
            timings.append(time.perf_counter() - started)
        if args.out:
            args.out.write_bytes(export.content)
        following = timings[1:]
        print(
            f"Lesion report, {args.visits} visits, images {width}×{height} px, PDF {len(export.content) / 1024:.0f} KiB"
        )
        print("| render | seconds |")
        print("| --- | --- |")
        print(f"| first (fonts loaded) | {timings[0]:.3f} |")
        if following:
            print(f"| median of the next {len(following)} | {statistics.median(following):.3f} |")
            print(f"| worst of the next {len(following)} | {max(following):.3f} |")
    finally:
        connection.creation.destroy_test_db(":memory:", verbosity=0)


if __name__ == "__main__":
    main()
