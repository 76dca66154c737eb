"""Seal and verify a 1-page and a 20-page PDF N times; print ms per seal / verify and the ratio.

    SIGNFLOW_VAR_DIR=/tmp/sf-bench .venv/bin/python bench/bench_seal.py [-n 10]

Runs against the database and storage of SIGNFLOW_VAR_DIR (migrated on start); the rows it
creates are deleted at the end. Import and first-use costs (pyHanko import, key generation)
are paid before timing starts.

Then BENCH verify-20-mb: `verification.services.verify_pdf` (one read of the file for its
SHA-256 and both signatures' /ByteRange digests, registry lookup, pyHanko validation of the
seal and its document timestamp; the stripe's code is read by pdfium only for a file that is
not our sealed file as it was) of a sealed 20-page, ~20 MB scan (grey-noise JPEG pages)
against the floor, pyHanko alone validating the same signatures with the same validation
context, digests included (`--verify-pairs` ABAB pairs). Target <= 1.3.

Run it from the checkout it measures (`cd` there first): `django.setup()` with our settings
puts the current directory first on sys.path, so another checkout's apps would be imported.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from _report import interleave, report


def scanned_pdf(*, pages: int, megabytes: float) -> bytes:
    """`pages` A4 pages, each a distinct grey-noise JPEG (incompressible), about `megabytes`."""
    from PIL import Image

    side = int((megabytes * 1e6 / pages / 0.56) ** 0.5)
    images = [Image.frombytes("L", (side, side), os.urandom(side * side)) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=150.0)
    return out.getvalue()


def pyhanko_alone(data: bytes) -> None:
    """The floor of a verification: pyHanko reads the file and validates every signature and
    document timestamp, with our trust roots and the file's DSS (pades.validation_context)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp

    from verification import keys, pades

    material = keys.get_key_material()
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    for sig in reader.embedded_regular_signatures:
        moment = pades._signature_ts_time(sig)
        context = pades.validation_context(material, reader=reader, moment=moment)
        assert validate_pdf_signature(sig, signer_validation_context=context).intact
    for stamp in reader.embedded_timestamp_signatures:
        moment = pades._token_time(stamp.signed_data)
        context = pades.validation_context(material, reader=reader, moment=moment)
        assert validate_pdf_timestamp(stamp, validation_context=context).intact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="seals per document size")
    parser.add_argument("--verify-pairs", type=int, default=5, help="ABAB pairs of verify-20-mb")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signflow.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from tests.verification import pdfs
    from verification.models import SealedDocument
    from verification.services import seal_pdf, verify_pdf

    def code() -> str:
        return "BENCH" + uuid.uuid4().hex[:7].upper()

    created: list[int] = []
    # Warm-up: imports, key generation, font loading.
    warm = seal_pdf(pdf_bytes=pdfs.invoice_pdf(), metadata=pdfs.metadata(code=code()))
    created.append(warm.pk)
    with warm.file.open("rb") as fh:
        verify_pdf(data=fh.read())

    results: dict[int, tuple[float, float, int]] = {}
    for pages in (1, 20):
        base = pdfs.weasyprint_pdf(pages=pages)
        seal_ms: list[float] = []
        verify_ms: list[float] = []
        size = 0
        for _ in range(args.n):
            start = time.perf_counter()
            document = seal_pdf(pdf_bytes=base, metadata=pdfs.metadata(code=code()))
            seal_ms.append((time.perf_counter() - start) * 1000)
            created.append(document.pk)
            with document.file.open("rb") as fh:
                data = fh.read()
            size = len(data)
            start = time.perf_counter()
            result = verify_pdf(data=data)
            verify_ms.append((time.perf_counter() - start) * 1000)
            assert result.verdict == "authentic", result.reasons
        results[pages] = (statistics.median(seal_ms), statistics.median(verify_ms), size)
        print(
            f"{pages:>2} page(s): seal {results[pages][0]:7.1f} ms  verify "
            f"{results[pages][1]:6.1f} ms  (median of {args.n}, sealed size {size // 1024} KiB)"
        )
    print(
        f"ratio 20p/1p: seal {results[20][0] / results[1][0]:.2f}x, "
        f"verify {results[20][1] / results[1][1]:.2f}x"
    )

    scan = seal_pdf(
        pdf_bytes=scanned_pdf(pages=20, megabytes=20), metadata=pdfs.metadata(code=code())
    )
    created.append(scan.pk)
    with scan.file.open("rb") as fh:
        sealed = fh.read()
    assert verify_pdf(data=sealed).verdict == "authentic"
    pairs = interleave(
        lambda: verify_pdf(data=sealed), lambda: pyhanko_alone(sealed), pairs=args.verify_pairs
    )
    print(f"verify {len(sealed) / 1e6:.1f} MB: {pairs.summary()} (floor: pyHanko alone)")
    report(
        "verify-20-mb",
        project=statistics.median(pairs.project) * 1000,
        floor=statistics.median(pairs.floor) * 1000,
        ratio=pairs.ratio,
        target=1.3,
    )

    for document in SealedDocument.objects.filter(pk__in=created):
        document.file.delete(save=False)
        document.delete()


if __name__ == "__main__":
    main()
