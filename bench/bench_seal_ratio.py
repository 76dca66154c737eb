"""Seal a 3-page envelope (`envelope_seal`) against its floor, alternating, in one run.

    DATABASE_URL=postgres://... SIGNFLOW_VAR_DIR=/tmp/sf-bench \\
        .venv/bin/python bench/bench_seal_ratio.py [--pairs 7] [--profile out.prof]

Project: `services.envelope_seal` of an envelope whose 3-page invoice both parties signed
(typed signatures, the director's stamp, the mention): flatten, stripe, certificate of
completion, PAdES B-LTA seal with the built-in TSA, registry, completion and its messages
(queued to the in-memory broker, not delivered).
Floor: what the seal cannot do without, measured on the same machine in the same run:
pyHanko signing the envelope's document with the same signer, timestamper, signature
metadata, seal box and stamp style (bytes reserved, so nothing is signed twice), plus one
WeasyPrint render of the same certificate HTML. Prints one BENCH line "seal-3-pages".

Last run (2026-12-01, 2 cores, load average 7, 7 pairs): project median 1161 ms, floor median
924 ms, ratio 1.17 (main before the one-pass seal, same load: 1.37).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.2


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("SIGNFLOW_LOG_FORMAT", "console")
    os.environ.pop("REDIS_URL", None)  # tasks queue to the in-memory broker
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False  # no query log growing in memory
    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    from signflow.celery import app

    app.conf.task_always_eager = False


def _three_page_invoice(deal: Any) -> Any:
    from _flow import new_invoice

    from crm.models import InvoiceLine

    invoice = new_invoice(deal)
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=i,
            description=f"Prestation de conception, lot {i}",
            quantity=Decimal(1 + i % 3),
            unit="h",
            unit_price=Decimal("95.50"),
            vat_rate=Decimal("20"),
        )
        for i in range(1, 48)
    )
    return invoice


def signed_envelope(deal: Any) -> Any:
    """An envelope of a 3-page invoice that both parties signed, waiting for its seal."""
    from _flow import send, sign_both

    from signing import services
    from signing.models import Envelope

    invoice = _three_page_invoice(deal)
    envelope = services.envelope_create_from_invoice(
        invoice=invoice, actor=deal.responsible, language="fr"
    )
    send(envelope, deal, client_sms=True)
    sign_both(envelope)
    assert envelope.status == Envelope.Status.SEALING, envelope.status
    assert envelope.document.page_count == 3, envelope.document.page_count
    return envelope


def floor_of(envelope: Any) -> Any:
    """pyHanko's B-LTA signature of the same input with the same signer and timestamper, and
    one WeasyPrint render of the envelope's certificate HTML."""
    import io

    from django.utils import timezone
    from pyhanko import stamp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from documents.previews import read_pdf
    from signing.services.sealing import seal_metadata
    from verification import certificate, keys, pades

    material = keys.get_key_material()
    data = read_pdf(envelope.document)
    metadata = seal_metadata(envelope)
    html = certificate.certificate_html(
        metadata=metadata,
        verify_url=f"https://example.test/verify/{envelope.public_id}/",
        sealed_at=timezone.now(),
        tsa_name=pades.tsa_display_name(),
        page_size=(595.28, 841.89),
        signed_sha256="0" * 64,
    )

    def floor() -> None:
        certificate.write_certificate_pdf(html)
        meta = pades.signature_metadata(material, reason="Sealed", location="SignFlow")
        signer = keys.seal_signer(material)
        pdf_signer = signers.PdfSigner(
            meta,
            signer=signer,
            timestamper=pades.make_timestamper(material),
            stamp_style=stamp.TextStampStyle(
                stamp_text="Sealed by SignFlow\n%(ts)s",
                border_width=1,
                timestamp_format="%Y-%m-%d %H:%M:%S %Z",
                text_box_style=pades._stamp_text_style(),
            ),
            new_field_spec=fields.SigFieldSpec(
                pades.SEAL_FIELD_NAME, on_page=2, box=(40, 60, 216, 111)
            ),
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        pdf_signer.sign_pdf(writer, bytes_reserved=pades.BYTES_RESERVED, output=io.BytesIO())

    return floor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--profile", help="cProfile the project's seals into this file")
    args = parser.parse_args()
    _setup()
    from _flow import demo_deal
    from _report import interleave, report

    from signing import services
    from signing.models import Envelope

    deal = demo_deal()
    envelopes = [signed_envelope(deal) for _ in range(args.pairs + 1)]  # +1: warm-up
    floors = iter([floor_of(e) for e in envelopes])
    queue = iter(envelopes)
    profiler = cProfile.Profile() if args.profile else None

    def project() -> None:
        envelope = next(queue)
        if profiler is not None:
            profiler.enable()
        sealed = services.envelope_seal(envelope_id=envelope.pk)
        if profiler is not None:
            profiler.disable()
        assert sealed.status == Envelope.Status.COMPLETED, sealed.sealing_error

    def floor() -> None:
        next(floors)()

    pairs = interleave(project, floor, pairs=args.pairs, warmup=1)
    if profiler is not None:
        profiler.dump_stats(args.profile)
    print(pairs.summary())
    report(
        "seal-3-pages",
        project=min(pairs.project) * 1000,
        floor=min(pairs.floor) * 1000,
        ratio=pairs.ratio,
        target=TARGET,
    )


if __name__ == "__main__":
    main()
