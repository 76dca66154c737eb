"""Two nodes that share no disk, only the bucket: one renders a document's previews (the
previews task, in a process of its own with its own SIGNFLOW_VAR_DIR and MEDIA_ROOT), the other
serves them without rendering again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from documents import previews
from documents.models import Document
from documents.services import document_create_from_upload
from tests.documents.conftest import blank_pdf, upload
from tests.storage.conftest import Bucket, files_under

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the other node needs PostgreSQL"),
]
ROOT = Path(__file__).resolve().parents[2]


def _node_env(bucket: Bucket, var_dir: Path) -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SIGNFLOW_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="signflow.settings_test",
        DATABASE_URL=url,
        SECRET_KEY=settings.SECRET_KEY,
        SIGNFLOW_VAR_DIR=str(var_dir),
        MEDIA_ROOT=str(var_dir / "media"),
        **bucket.env,
    )
    return env


def _render_on_other_node(bucket: Bucket, var_dir: Path, document_id: int) -> str:
    script = (
        "import django; django.setup()\n"
        "from django.core.files.storage import default_storage\n"
        "from documents.previews import previews_render\n"
        f"status = previews_render(document_id={document_id})\n"
        "print(type(default_storage._wrapped).__name__, status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=_node_env(bucket, var_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_a_preview_rendered_on_one_node_is_served_by_another(
    s3: Bucket, sender, sender_client: Client, media_root: Path, tmp_path: Path, settings
):
    settings.SIGNFLOW_PREVIEW_INLINE_PAGES = 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(previews, "_send_task", lambda _document_id: None)  # node A's job
        document = document_create_from_upload(
            uploaded_file=upload(blank_pdf(3)), title="Catalogue", creator=sender
        )
    assert document.previews == Document.Previews.QUEUED

    node_a = tmp_path / "node-a"
    assert _render_on_other_node(s3, node_a, document.pk) == "S3Storage ready"
    document.refresh_from_db()
    assert (document.previews, document.previews_done) == (Document.Previews.READY, 3)
    stored = {key for key in s3.object_names() if key.startswith("previews/")}
    assert stored == {
        f"previews/{document.sha256}/{page}-{size}.png"
        for page in (1, 2, 3)
        for size in ("page", "thumb")
    }

    # Node B (this process, another MEDIA_ROOT) serves them; rendering here would fail.
    def no_render(*_args: object, **_kwargs: object) -> bytes:
        raise AssertionError("rendered again instead of read from the bucket")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(previews, "render_page_png", no_render)
        for page in (1, 2, 3):
            for size in ("page", "thumb"):
                response = sender_client.get(
                    f"/documents/{document.pk}/pages/{page}.png?size={size}"
                )
                assert response.status_code == 200
                key = f"previews/{document.sha256}/{page}-{size}.png"
                assert response.content == s3.read(key)

    # Neither node wrote a file of its own.
    assert not (node_a / "media").exists() or files_under(node_a / "media") == []
    assert not media_root.exists() or files_under(media_root) == []


def test_a_half_written_preview_is_rendered_again_not_served(
    s3: Bucket, sender, sender_client: Client
):
    document = document_create_from_upload(
        uploaded_file=upload(blank_pdf(1)), title="Catalogue", creator=sender
    )
    key = f"previews/{document.sha256}/1-page.png"
    whole = sender_client.get(f"/documents/{document.pk}/pages/1.png").content
    s3.client().put_object(Bucket=s3.name, Key=key, Body=whole[: len(whole) // 2])
    again = sender_client.get(f"/documents/{document.pk}/pages/1.png")
    assert again.status_code == 200
    assert again.content == whole
