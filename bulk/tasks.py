"""Thin Celery interfaces on the `bulk` queue: load by id, call the service."""

from celery import shared_task

from bulk import services


@shared_task(ignore_result=True, acks_late=True, queue="bulk")
def run_batch(batch_id: int) -> int:
    # No retry policy needed: a runner re-delivered after a crash only finds the rows still
    # waiting (a row is claimed and written in one transaction, bulk.services.row_send_next).
    return services.batch_work(batch_id=batch_id)


@shared_task(ignore_result=True, acks_late=True, queue="bulk")
def run_batch_action(event_id: int) -> dict[str, int]:
    return services.batch_action_run(event_id=event_id)


def queue_runners(batch_id: int, runners: int) -> None:
    for _ in range(runners):
        run_batch.delay(batch_id)


def queue_action(event_id: int) -> None:
    run_batch_action.delay(event_id)
