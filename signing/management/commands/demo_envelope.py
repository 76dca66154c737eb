from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from signflow.celery import app as celery_app
from signing.demo import demo_envelope
from signing.models import Envelope


class Command(BaseCommand):
    help = (
        "Send a demo invoice for signature; with --complete, sign it as both parties and seal it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--complete", action="store_true", help="Sign as both parties and seal."
        )
        parser.add_argument("--out", type=Path, help="Write the sealed PDF here.")
        parser.add_argument("--language", choices=["fr", "en"], default="fr")

    def handle(self, *_args: Any, **options: Any) -> None:
        celery_app.conf.task_always_eager = True  # the whole flow in this process
        envelope = demo_envelope(complete=options["complete"], language=options["language"])
        self.stdout.write(f"Envelope {envelope.public_id}: {envelope.get_status_display()}")
        if options["out"]:
            if envelope.status != Envelope.Status.COMPLETED or envelope.sealed is None:
                raise CommandError(f"Not sealed: {envelope.sealing_error or envelope.status}")
            with envelope.sealed.file.open("rb") as fh:
                options["out"].write_bytes(fh.read())
            self.stdout.write(
                f"Sealed PDF written to {options['out']} (sha256 {envelope.sealed.sha256})"
            )
