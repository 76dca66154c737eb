"""Thin Celery interfaces, routed to the `bulk` queue (CELERY_TASK_ROUTES "bulk.tasks.*"):
load by id, call the service."""

from celery import shared_task

from bulk import services


@shared_task(ignore_result=True, acks_late=True)
def run_batch(batch_id: int) -> int:
    # No retry policy needed: a runner re-delivered after a crash only finds the rows still
    # waiting (a row is claimed and written in one transaction, bulk.services.row_send_next).
    handled, more = services.batch_work(batch_id=batch_id, budget_seconds=services.RUNNER_SECONDS)
    if more:
        run_batch.delay(batch_id)  # the next stretch in a fresh task (time limits)
    return handled


@shared_task(ignore_result=True, acks_late=True)
def run_batch_action(event_id: int) -> dict[str, int]:
    outcome, more = services.batch_action_run(
        event_id=event_id, budget_seconds=services.RUNNER_SECONDS
    )
    if more:
        run_batch_action.delay(event_id)
    return outcome


def queue_runners(batch_id: int, runners: int) -> None:
    for _ in range(runners):
        run_batch.delay(batch_id)


def queue_action(event_id: int) -> None:
    run_batch_action.delay(event_id)
