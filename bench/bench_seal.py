"""Seal and verify a 1-page and a 20-page PDF N times; print ms per seal / verify and the ratio.

    SIGNFLOW_VAR_DIR=/tmp/sf-bench .venv/bin/python bench/bench_seal.py [-n 10]

Runs against the database and storage of SIGNFLOW_VAR_DIR (migrated on start); the rows it
creates are deleted at the end. Import and first-use costs (pyHanko import, key generation)
are paid before timing starts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="seals per document size")
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

    for document in SealedDocument.objects.filter(pk__in=created):
        document.file.delete(save=False)
        document.delete()


if __name__ == "__main__":
    main()
