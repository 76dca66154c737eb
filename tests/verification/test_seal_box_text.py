"""The visible seal box keeps French accents (its embedded DejaVu subset has Latin-1, œ and €)
and folds only what the subset lacks, instead of reducing everything to ASCII."""

import io
import subprocess

from pypdf import PdfWriter

from verification import keys, pades


def test_the_seal_box_text_keeps_accents_and_folds_the_rest():
    assert pades._stamp_safe("Scellé œ € « x »") == "Scellé œ € « x »"
    assert pades._stamp_safe("Ǆ ✓") == "DZ "
    assert pades._stamp_safe("ligne\nsuivante") == "ligne\nsuivante"


def test_a_seal_box_with_accents_signs_with_embedded_fonts(db, tmp_path):
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    out = pades.sign(
        pdf_bytes=buffer.getvalue(),
        material=keys.get_key_material(),
        reason="test",
        location="test",
        stamp_text="Scellé par SignFlow œ €",
        seal_box=(0, 100, 100, 400, 160),
    )
    path = tmp_path / "sealed.pdf"
    path.write_bytes(out.pdf)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows and all(" yes " in row for row in rows), fonts.stdout
    sig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
    assert "Signature is Valid" in sig.stdout
