"""Page previews of large files: rendered by a Celery task, progress polled by the editor."""

import pytest
from django.test import Client
from django.urls import reverse

from documents import previews
from documents.models import Document
from documents.previews import previews_render
from documents.services import document_create_from_upload
from tests.documents.conftest import blank_pdf, upload

pytestmark = pytest.mark.urls("tests.documents.urlconf")


@pytest.fixture(autouse=True)
def small_inline_limit(settings):
    settings.SIGNFLOW_PREVIEW_INLINE_PAGES = 3


def create(sender, pages: int) -> Document:
    return document_create_from_upload(
        uploaded_file=upload(blank_pdf(pages)), title="Catalogue", creator=sender
    )


def test_a_small_file_keeps_rendering_its_pages_on_demand(
    sender, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        document = create(sender, 3)
    assert document.previews == Document.Previews.ON_DEMAND
    assert callbacks == []


def test_a_large_file_queues_the_task_which_renders_every_page(
    sender, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        document = create(sender, 5)
    assert len(callbacks) == 1  # eager here, as in development
    document.refresh_from_db()
    assert document.previews == Document.Previews.READY
    assert document.previews_done == 5
    folder = media_root / "previews" / document.sha256
    assert {path.name for path in folder.iterdir()} == {
        f"{page}-{size}.png" for page in range(1, 6) for size in ("page", "thumb")
    }


def test_while_rendering_the_editor_shows_progress_and_polls(sender_client, sender):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(previews, "_send_task", lambda document_id: None)
        document = create(sender, 5)
    Document.objects.filter(pk=document.pk).update(
        previews=Document.Previews.RENDERING, previews_done=2
    )
    html = sender_client.get(reverse("documents:edit_fields", args=[document.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert "2 of 5 pages" in html
    assert '<progress id="preview-progress-bar" max="5" value="2">' in html
    assert "data-src=" in html  # images wait for the task
    status = sender_client.get(
        reverse("documents:previews_status", args=[document.pk]), HTTP_HX_REQUEST="true"
    )
    assert "2 of 5 pages" in status.content.decode()
    assert "HX-Refresh" not in status


def test_the_status_asks_for_a_reload_once_ready(sender_client, sender):
    document = create(sender, 5)
    previews_render(document_id=document.pk)
    status = sender_client.get(
        reverse("documents:previews_status", args=[document.pk]), HTTP_HX_REQUEST="true"
    )
    assert status["HX-Refresh"] == "true"
    html = sender_client.get(reverse("documents:edit_fields", args=[document.pk])).content.decode()
    assert "data-src=" not in html and 'hx-trigger="every 1s"' not in html


def test_a_failing_task_records_the_error_and_the_editor_falls_back(
    sender_client, sender, monkeypatch
):
    document = create(sender, 5)
    Document.objects.filter(pk=document.pk).update(previews=Document.Previews.QUEUED)
    calls = []

    def broken(pdf_bytes, *, page, width_px):
        calls.append(page)
        if page == 3:
            raise RuntimeError("pdfium ran out of memory")
        return b"png"

    monkeypatch.setattr(previews, "render_page_png", broken)
    assert previews_render(document_id=document.pk) == Document.Previews.FAILED
    document.refresh_from_db()
    assert document.previews == Document.Previews.FAILED
    assert document.previews_done == 2
    response = sender_client.get(reverse("documents:edit_fields", args=[document.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "page 3 failed (pdfium ran out of memory)" in html
    assert "data-src=" not in html  # pages render on demand again
    assert 'hx-trigger="every 1s"' not in html
    # Try again queues it anew.
    monkeypatch.setattr(previews, "_send_task", lambda document_id: None)
    sender_client.post(reverse("documents:previews_retry", args=[document.pk]))
    document.refresh_from_db()
    assert (document.previews, document.previews_done, document.previews_error) == ("queued", 0, "")


def test_a_finished_document_is_not_rendered_twice(sender, monkeypatch):
    document = create(sender, 5)
    previews_render(document_id=document.pk)
    monkeypatch.setattr(previews, "render_page_png", pytest.fail)
    assert previews_render(document_id=document.pk) == "skipped"


def test_a_broker_outage_falls_back_to_rendering_on_demand(sender, monkeypatch):
    from documents import tasks

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.render_previews, "delay", unreachable)
    document = create(sender, 5)
    previews._send_task(document.pk)
    document.refresh_from_db()
    assert document.previews == Document.Previews.ON_DEMAND


def test_a_colleague_cannot_poll_or_retry_my_previews(colleague, sender):
    document = create(sender, 5)
    other = Client()
    other.force_login(colleague)
    assert other.get(reverse("documents:previews_status", args=[document.pk])).status_code == 404
    assert other.post(reverse("documents:previews_retry", args=[document.pk])).status_code == 404


def test_a_manager_may_poll_them(client, manager, sender):
    document = create(sender, 5)
    client.force_login(manager)
    assert client.get(reverse("documents:previews_status", args=[document.pk])).status_code == 200
