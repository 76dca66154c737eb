"""Peak memory of sealing a 200-page, 19.4 MB PDF, in a process of its own.

    DATABASE_URL=postgres://... SIGNFLOW_VAR_DIR=/tmp/sf-bench \\
        .venv/bin/python bench/bench_seal_rss.py [--pages 200] [--mb 19.4]

The parent makes an uploaded document of that size (one distinct JPEG scan per page), an
envelope that both parties signed, then starts a child process that only sets Django up and
runs `envelope_seal` on it (flatten, stripe, certificate, PAdES B-LTA, registry). The child
reads its own peak resident set (VmHWM, which includes Python, Django, pyHanko, pypdf and
WeasyPrint as imported). Floor: 3 x the file's size + 150 MB (the interpreter with its
libraries, and room for the input, the prepared file and the sealed file). Prints one BENCH
line "seal-rss-200-pages" (target: at most the floor).

Last run (2026-12-01): 19.1 MB, peak 185 MB, floor 207 MB, ratio 0.89 (main before the
one-pass seal: 265 MB, 1.28).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.0
MB = 1024 * 1024

CHILD = """
import os, sys, django
sys.path.insert(0, {root!r})
django.setup()
from django.conf import settings
settings.DEBUG = False
from signflow.celery import app
app.conf.task_always_eager = False
from signing import services
envelope = services.envelope_seal(envelope_id={envelope_id})
assert envelope.status == "completed", (envelope.status, envelope.sealing_error)
status = open("/proc/self/status").read()
peak = [line for line in status.splitlines() if line.startswith("VmHWM:")][0]
print("PEAK_KB", int(peak.split()[1]))
"""


def scanned_pdf(pages: int, megabytes: float) -> bytes:
    """`pages` A4 pages, each a distinct grey-noise JPEG, about `megabytes` in all."""
    from PIL import Image
    from pypdf import PdfWriter
    from pypdf.generic import (
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        StreamObject,
    )

    rng = random.Random(17)
    # Grey noise compresses to about 0.675 bytes a pixel as JPEG at quality 85.
    side = int((megabytes * MB / pages / 0.675) ** 0.5)
    writer = PdfWriter()
    for number in range(pages):
        noise = bytes(rng.getrandbits(8) for _ in range(side * side))
        out = io.BytesIO()
        Image.frombytes("L", (side, side), noise).save(out, "JPEG", quality=85)
        jpeg = out.getvalue()
        xobject = StreamObject()
        xobject._data = jpeg
        xobject.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(side),
                NameObject("/Height"): NumberObject(side),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8),
                NameObject("/Filter"): NameObject("/DCTDecode"),
            }
        )
        page = writer.add_blank_page(width=595.28, height=841.89)
        content = DecodedStreamObject()
        content.set_data(b"q 500 0 0 500 47 170 cm /Scan Do Q\n" + b"%" * (number % 7))
        page[NameObject("/Contents")] = writer._add_object(content)
        page[NameObject("/Resources")] = DictionaryObject(
            {
                NameObject("/XObject"): DictionaryObject(
                    {NameObject("/Scan"): writer._add_object(xobject)}
                )
            }
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signed_envelope(data: bytes) -> Any:
    from _flow import demo_deal, send, sign_both
    from django.core.files.uploadedfile import SimpleUploadedFile

    from documents.services import document_create_from_upload
    from signing import services
    from signing.models import Envelope

    deal = demo_deal()
    document = document_create_from_upload(
        uploaded_file=SimpleUploadedFile("scan.pdf", data, content_type="application/pdf"),
        title="Scan de 200 pages",
        creator=deal.responsible,
    )
    envelope = services.envelope_create(document=document, responsible=deal.responsible)
    send(envelope, deal)
    sign_both(envelope)
    assert envelope.status == Envelope.Status.SEALING, envelope.status
    return envelope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--mb", type=float, default=19.4)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_seal_ratio import _setup

    _setup()
    from _report import report

    data = scanned_pdf(args.pages, args.mb)
    envelope = signed_envelope(data)
    size = envelope.document.pdf.size
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "signflow.settings"}
    env.pop("REDIS_URL", None)
    child = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT), envelope_id=envelope.pk)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    peaks = [line for line in child.stdout.splitlines() if line.startswith("PEAK_KB")]
    if child.returncode != 0 or not peaks:
        print(child.stdout[-2000:], child.stderr[-4000:])
        raise SystemExit("the sealing child failed")
    peak = int(peaks[0].split()[1]) * 1024 / MB
    floor = 3 * size / MB + 150
    print(f"{args.pages} pages, {size / MB:.1f} MB: peak RSS {peak:.0f} MB, floor {floor:.0f} MB")
    report(
        "seal-rss-200-pages",
        project=peak,
        floor=floor,
        ratio=peak / floor,
        target=TARGET,
        unit="MB",
    )


if __name__ == "__main__":
    main()
