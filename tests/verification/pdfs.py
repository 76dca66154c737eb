"""Small PDFs made for the verification tests, and ways to tamper with sealed ones."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject


def invoice_pdf(*, amount: str = "10 000,00 €", pages: int = 1) -> bytes:
    """An invoice whose amount sits as plain text in an uncompressed content stream."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for number in range(1, pages + 1):
        page = writer.add_blank_page(width=595, height=842)
        lines = [
            (72, 760, 20, f"Facture F-2026-00001 - page {number}"),
            (72, 700, 12, "Atelier Lumiere SAS pour Dupont & Fils"),
            (72, 660, 12, "Prestation de conception graphique"),
        ]
        if number == 1:
            lines.append((72, 600, 14, f"Total TTC : {amount}"))
        ops = b"".join(
            b"BT /F1 %d Tf %d %d Td (" % (size, x, y) + text.encode("cp1252") + b") Tj ET\n"
            for x, y, size, text in lines
        )
        stream = DecodedStreamObject()
        stream.set_data(ops)
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def weasyprint_pdf(*, pages: int = 1) -> bytes:
    from weasyprint import HTML

    body = "".join(
        f"<section style='page-break-after: always'><h1>Contrat - page {n}</h1>"
        + "<p>Le prestataire s'engage à livrer les travaux décrits ci-dessous. </p>" * 12
        + "</section>"
        for n in range(1, pages + 1)
    )
    return HTML(string=f"<html><body>{body}</body></html>").write_pdf()


def metadata(code: str = "K7M2P9XQ4TAB", language: str = "fr", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": code,
        "title": "Facture F-2026-00001",
        "language": language,
        "original_sha256": "ab" * 32,
        "sender": {"name": "Sophie Bernard", "company": "Atelier Lumière SAS"},
        "created_at": "2026-11-27T10:00:00Z",
        "sent_at": "2026-11-27T10:05:00Z",
        "audit_head": "cd" * 32,
        "parties": [
            {
                "role": "company",
                "name": "Sophie Bernard",
                "company": "Atelier Lumière SAS",
                "contact_masked": "s***@a***.fr",
                "channel": "email",
                "otp_confirmed_at": "2026-11-27T10:10:00Z",
                "method": "drawn",
                "ip": "203.0.113.5",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
                "opened_at": "2026-11-27T10:09:00Z",
                "signed_at": "2026-11-27T10:11:00Z",
            },
            {
                "role": "client",
                "name": "Jean Dupont",
                "company": "",
                "contact_masked": "+33 6** ** ** 78",
                "channel": "sms",
                "otp_confirmed_at": "2026-07-01T11:10:00Z",
                "method": "typed",
                "ip": "198.51.100.7",
                "user_agent": "Mozilla/5.0 (iPhone) Safari/605.1",
                "opened_at": "2026-07-01T11:09:00Z",
                "signed_at": "2026-07-01T11:11:00Z",
            },
        ],
    }
    data.update(extra)
    return data


def flip_byte(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def append_incremental_update(data: bytes) -> bytes:
    """Append a new revision that changes the /Info title, the way an editor would."""
    from pyhanko.pdf_utils.generic import NameObject as HankoName
    from pyhanko.pdf_utils.generic import pdf_string
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    info = writer.trailer["/Info"]
    info[HankoName("/Title")] = pdf_string("Facture modifiée")
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def resave_with_pypdf(data: bytes) -> bytes:
    from pypdf import PdfReader

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdfsig_signatures(pdfsig_stdout: str) -> list[str]:
    """pdfsig's output cut into one block per signature, in file order."""
    return ["Signature #" + b for b in pdfsig_stdout.split("Signature #")[1:]]


def assert_pdfsig_lta(pdfsig_stdout: str) -> None:
    """PAdES B-LTA as pdfsig sees it: the seal is valid and covers the file up to its DSS and
    document timestamp; the last signature (a document timestamp) covers the whole file."""
    blocks = pdfsig_signatures(pdfsig_stdout)
    assert len(blocks) >= 2, pdfsig_stdout
    assert "Signature is Valid" in blocks[0], pdfsig_stdout
    assert "ETSI.CAdES.detached" in blocks[0], pdfsig_stdout
    assert "Total document signed" in blocks[-1], pdfsig_stdout
    assert "Not total document signed" not in blocks[-1], pdfsig_stdout
