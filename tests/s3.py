"""A real S3-compatible HTTP server for tests that span processes (moto's server mode, started by
the test set-up on a free port): the test process, live servers and Celery workers all reach the
same bucket over HTTP, as separate hosts would reach S3."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

REGION = "eu-central-1"
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"  # moto's server accepts any key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class S3Server:
    endpoint_url: str
    server: object

    def new_bucket(self) -> str:
        name = f"skinportal-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def environment(self, bucket: str) -> dict[str, str]:
        """What a process (worker, web) needs to use the bucket: SKINPORTAL_STORAGE=s3 and its address."""
        return {
            "SKINPORTAL_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def storages_default(self, bucket: str) -> dict:
        """The STORAGES["default"] entry base.py builds from that environment."""
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": self.endpoint_url,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "default_acl": "private",
                "querystring_auth": True,
                "querystring_expire": 60,
                "file_overwrite": False,
            },
        }


def start_s3_server() -> S3Server:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return S3Server(endpoint_url=f"http://127.0.0.1:{port}", server=server)


def workers_use_s3() -> bool:
    """The real-worker tests use the S3 server (CI sets SKINPORTAL_TEST_WORKER_STORAGE=s3);
    otherwise a media folder shared by the test process and its workers."""
    return os.environ.get("SKINPORTAL_TEST_WORKER_STORAGE", "local") == "s3"
