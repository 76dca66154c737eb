"""The whole signing flow, timed: send an invoice, both parties sign, seal, verify.

    SIGNFLOW_VAR_DIR=/tmp/sf-bench .venv/bin/python bench/bench_flow.py [-n 5]

Prints the median milliseconds of each step for a one-line invoice and for a 60-line invoice
(several pages), and the ratio between the two, measured in one run. Runs on the database of
SIGNFLOW_VAR_DIR (SQLite by default, migrated on start), tasks in-process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="envelopes per invoice size")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)

    from _flow import demo_deal, new_invoice, send

    from signflow.celery import app
    from signing import demo, services
    from signing.models import Envelope, Party
    from verification.services import verify_pdf

    app.conf.task_always_eager = True
    deal = demo_deal()

    def run_once(lines: int, timings: dict[str, list[float]]) -> None:
        invoice = new_invoice(deal, lines=lines)
        t0 = time.perf_counter()
        envelope = services.envelope_create_from_invoice(
            invoice=invoice, actor=deal.responsible, language="fr"
        )
        t1 = time.perf_counter()
        send(envelope, deal, client_sms=True)
        t2 = time.perf_counter()
        parties = list(envelope.parties.order_by("order"))
        demo._sign(parties[0], typed_name=parties[0].name, stamp=demo._stamp())
        t3 = time.perf_counter()
        parties[1].refresh_from_db()
        demo._sign(parties[1], typed_name=parties[1].name, stamp=None)  # seals on commit
        t4 = time.perf_counter()
        envelope.refresh_from_db()
        assert envelope.status == Envelope.Status.COMPLETED, envelope.sealing_error
        assert envelope.sealed is not None
        data = envelope.sealed.file.read()
        result = verify_pdf(data=data)
        t5 = time.perf_counter()
        assert result.verdict == "authentic"
        for name, value in [
            ("render invoice", t1 - t0),
            ("send", t2 - t1),
            ("company signs", t3 - t2),
            ("client signs + seal", t4 - t3),
            ("verify", t5 - t4),
            ("total", t5 - t0),
        ]:
            timings[name].append(value * 1000)
        timings["pages"].append(envelope.document.page_count)
        assert Party.objects.filter(envelope=envelope, status="signed").count() == 2

    run_once(1, defaultdict(list))  # warm-up: imports, keys, fonts
    results = {}
    for lines in (1, 60):
        timings: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.n):
            run_once(lines, timings)
        results[lines] = {k: statistics.median(v) for k, v in timings.items()}

    small, large = results[1], results[60]
    print(f"{'step (median ms)':<22}{'1 line':>10}{'60 lines':>10}{'ratio':>8}")
    for key in [
        "render invoice",
        "send",
        "company signs",
        "client signs + seal",
        "verify",
        "total",
    ]:
        print(f"{key:<22}{small[key]:>10.0f}{large[key]:>10.0f}{large[key] / small[key]:>8.2f}")
    print(f"{'pages':<22}{small['pages']:>10.0f}{large['pages']:>10.0f}")


if __name__ == "__main__":
    main()
