"""Uploads in an S3-compatible bucket (CLOSELOOP_S3_BUCKET): what web servers on several hosts
share. A real S3 server (moto's, on 127.0.0.1) stands in for MinIO or the cloud's."""

import io
import socket

import boto3
import pytest
from moto.server import ThreadedMotoServer

from closeloop.workorders.models import Attachment
from closeloop.workorders.tests.factories import make_wo

BUCKET = "closeloop-uploads"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield url, client
    server.stop()


@pytest.fixture
def on_s3(settings, s3_server):
    url, client = s3_server
    settings.S3_BUCKET = BUCKET
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": BUCKET, "endpoint_url": url, "access_key": "test", "secret_key": "test",
            "region_name": "us-east-1", "addressing_style": "path", "default_acl": None,
            "file_overwrite": False, "location": "t"}},
    }
    return client


def _pdf(body: bytes, name="manual.pdf"):
    f = io.BytesIO(b"%PDF-1.4 " + body)
    f.name = name
    return f


def test_an_attachment_goes_to_the_bucket_and_comes_back_through_the_permission_checked_view(world, on_s3, settings):
    wo = make_wo(world)
    c = world.api(world.dispatcher)
    r = c.upload(f"/api/v1/work-orders/{wo.code}/attachments", {"file": _pdf(b"S3" * 1000)})
    assert r.status_code == 201, r.content
    att = Attachment.objects.get(work_order=wo)
    keys = [o["Key"] for o in on_s3.list_objects_v2(Bucket=BUCKET, Prefix="t/").get("Contents", [])]
    assert f"t/{att.file.name}" in keys  # in the bucket...
    assert not (settings.MEDIA_ROOT.exists() and any(settings.MEDIA_ROOT.rglob("*.pdf")))  # ...not on this disk
    got = c.get(f"/api/v1/work-orders/{wo.code}/attachments/{att.id}")
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == b"%PDF-1.4 " + b"S3" * 1000
    # Someone who may not see the work order gets nothing, bucket or not.
    assert world.api(world.cust_b).get(f"/api/v1/work-orders/{wo.code}/attachments/{att.id}").status_code == 404


def test_a_backup_with_uploads_in_a_bucket_names_the_bucket_and_keeps_the_files_out(world, on_s3, tmp_path):
    from closeloop.ops import backup

    manifest = backup.backup(tmp_path / "b.tar.gz")
    assert manifest["media"] == f"s3:{BUCKET}"
    import tarfile

    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        assert not [n for n in tar.getnames() if n.startswith("media")]
