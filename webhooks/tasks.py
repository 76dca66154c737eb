"""Thin Celery interfaces on the `webhooks` queue (CELERY_TASK_ROUTES sends `webhooks.tasks.*`
there): emails and SMS never wait behind a slow receiver, and a receiver never waits behind
them."""

from celery import shared_task

from webhooks import services


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    return services.deliver(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def sweep_webhooks() -> int:
    return services.sweep()
