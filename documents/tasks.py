"""Thin Celery interfaces: load by id, call the service, retry policy here."""

from celery import shared_task

from documents.previews import previews_render


@shared_task(ignore_result=True, acks_late=True)
def render_previews(document_id: int) -> str:
    # No retry: a page that fails to render fails again; the failure is shown in the editor.
    return previews_render(document_id=document_id)
