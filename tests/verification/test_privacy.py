"""What an answer to an upload may show of the sealed original (issue 11, part 1).

The original is a real sealed PDF: a two-page invoice with an address, an IBAN and amounts,
then the certificate of completion with the signers' IP addresses and browsers. Anyone holding
a file learns nothing of it beyond what the file already shows, except the changed regions of
pages that clearly are its pages; its sender's employees and its signers see everything.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

from crm.models import OwnCompany
from tests import factories
from tests.verification import pdfs
from verification.diffing import word_score
from verification.models import SealedDocument
from verification.services import seal_pdf, verification_url, verify_pdf
from verification.stamping import stamp_pages

CODE = "PRIVACY2026X"
AMOUNT = "10 000,00 €"
# Everything of the original that no stranger's upload may reveal: page 1 (address, IBAN,
# amounts), page 2 (terms) and the certificate of completion (IP addresses, browsers).
SECRETS = (
    "12 rue des Lilas",
    "69003",
    "8 avenue Foch",
    "FR76 3000 6000",
    "AGRIFRPP",
    "8 333,33",
    "1 666,67",
    "10 000,00",
    "2 500,00",
    "Conditions générales",
    "Pénalités de retard",
    "203.0.113.5",
    "198.51.100.7",
    "Firefox/140.0",
    "Safari/605.1",
)
PAGE_1 = [
    (72, 770, 18, "Facture F-2026-00042"),
    (72, 740, 11, "Atelier Lumière SAS, 12 rue des Lilas, 69003 Lyon"),
    (72, 720, 11, "Client : Boulangerie Martin SARL, 8 avenue Foch, 75116 Paris"),
    (72, 680, 11, "Prestation de conception graphique, affiches et brochures"),
    (72, 650, 11, "Total HT : 8 333,33 €"),
    (72, 630, 11, "TVA 20 % : 1 666,67 €"),
    (72, 600, 14, "Total TTC : {amount}"),
    (72, 560, 10, "IBAN : FR76 3000 6000 0112 3456 7890 189 - BIC : AGRIFRPP"),
    (72, 540, 10, "Paiement à 30 jours fin de mois par virement bancaire"),
]
PAGE_2 = [
    (72, 770, 16, "Conditions générales de vente"),
    (72, 740, 10, "Pénalités de retard : trois fois le taux légal en vigueur"),
    (72, 720, 10, "Indemnité forfaitaire pour frais de recouvrement : 40 €"),
    (72, 700, 10, "Escompte pour paiement anticipé : néant"),
    (72, 680, 10, "Acompte versé à la commande : 2 500,00 €"),
    (72, 660, 10, "Tout litige relève du tribunal de commerce de Lyon"),
]


def text_pdf(pages: list[list[tuple[int, int, int, str]]]) -> bytes:
    """Pages of Helvetica text in plain content streams, as the sender's PDF would have."""
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
    for lines in pages:
        page = writer.add_blank_page(width=595, height=842)
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


def invoice(amount: str = AMOUNT) -> bytes:
    page_1 = [(x, y, size, text.format(amount=amount)) for x, y, size, text in PAGE_1]
    return text_pdf([page_1, PAGE_2])


def with_stripe(pdf: bytes, code: str = CODE) -> bytes:
    """The pages with the same SignFlow stripe as the sealed original, and no certificate."""
    with translation.override("fr"):
        stripe = _("SignFlow %(code)s · Verify this document at %(url)s") % {
            "code": code,
            "url": verification_url(code),
        }
    return stamp_pages(
        pdf_bytes=pdf, stripe_text=stripe, code=code, title="Copie", certificate_pdf=text_pdf([])
    )


def first_page(pdf: bytes) -> bytes:
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(pdf)).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> None:
    cache.clear()


@pytest.fixture
def original(db: None) -> SealedDocument:
    return seal_pdf(pdf_bytes=invoice(), metadata=pdfs.metadata(code=CODE))


@pytest.fixture
def original_bytes(original: SealedDocument) -> bytes:
    with original.file.open("rb") as fh:
        return fh.read()


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def ask(client: Client, data: bytes, url: str | None = None) -> tuple[dict[str, Any], str]:
    """The JSON API's answer and the public page's HTML for the same upload."""

    def file() -> SimpleUploadedFile:
        return SimpleUploadedFile("copie.pdf", data, content_type="application/pdf")

    api = client.post(reverse("verification:api_verify"), {"file": file()})
    page = client.post(url or reverse("verification:verify"), {"file": file()})
    assert api.status_code == 200 and page.status_code == 200
    return api.json(), page.content.decode()


def images(html: str) -> list[Image.Image]:
    found: list[Image.Image] = []
    for part in html.split('src="data:image/png;base64,')[1:]:
        found.append(Image.open(io.BytesIO(base64.b64decode(part.split('"', 1)[0]))))
    return found


def assert_nothing_of_the_original(data: dict[str, Any], html: str) -> None:
    dumped = json.dumps(data, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in dumped, f"the JSON shows {secret!r}"
        assert secret not in html, f"the page shows {secret!r}"
    assert "data:image" not in html
    assert "<img" not in html.split('id="verification-result"', 1)[1]


# --- the leak: a blank page that only carries the code -------------------------------------------


def test_a_blank_page_with_the_code_learns_only_that_it_is_not_the_document(
    client: Client, original: SealedDocument
) -> None:
    blank = text_pdf([[(72, 700, 12, f"SignFlow {CODE}")]])
    data, html = ask(client, blank)
    assert data["verdict"] == "modified"
    assert data["code"] == CODE
    assert "not_the_sealed_document" in [r["code"] for r in data["reasons"]]
    assert data["message"] == f"This is not the sealed document {CODE}."
    assert data["changes"]["pages"] == [] and data["changes"]["text"] == []
    assert data["changes"]["missing_pages"] == [] and data["changes"]["matched_pages"] == []
    assert f"This is not the sealed document {CODE}" in html
    assert 'id="text-changes"' not in html and "page-diff" not in html
    assert_nothing_of_the_original(data, html)


def test_a_blank_page_with_a_perfect_copy_of_the_stripe_learns_nothing_either(
    client: Client, original: SealedDocument
) -> None:
    # The stripe is drawn exactly as on the original: its words and pixels are in place, but
    # they prove nothing, every page carries them.
    data, html = ask(client, with_stripe(text_pdf([[]])))
    assert "not_the_sealed_document" in [r["code"] for r in data["reasons"]]
    assert_nothing_of_the_original(data, html)


def test_a_page_holding_only_a_small_signature_is_not_matched_by_the_stripe(
    client: Client, db: None
) -> None:
    # The original's page has no text of its own, only an initials-sized mark and the stripe:
    # a blank page with a perfect copy of the stripe must not get the mark back as a "change".
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([[]]))))
    mark = DecodedStreamObject()
    mark.set_data(b"q 1.5 w 0 g 400 120 m 415 132 l 430 118 l 445 130 l S Q\n")
    writer.pages[0][NameObject("/Contents")] = writer._add_object(mark)
    out = io.BytesIO()
    writer.write(out)
    seal_pdf(pdf_bytes=out.getvalue(), metadata=pdfs.metadata(code="PRIVACYSIGN1"))
    data, html = ask(client, with_stripe(text_pdf([[]]), code="PRIVACYSIGN1"))
    assert "not_the_sealed_document" in [r["code"] for r in data["reasons"]]
    assert data["changes"]["pages"] == []
    assert "data:image" not in html


def test_the_page_speaks_french_to_a_french_browser(
    client: Client, original: SealedDocument
) -> None:
    blank = text_pdf([[(72, 700, 12, f"SignFlow {CODE}")]])
    response = client.post(
        reverse("verification:verify"),
        {"file": SimpleUploadedFile("c.pdf", blank, content_type="application/pdf")},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert f"Ce n’est pas le document scellé {CODE}" in response.content.decode()


def test_a_page_with_its_words_in_place_but_blacked_out_is_not_the_page(
    client: Client, original: SealedDocument, original_bytes: bytes
) -> None:
    # Every word of page 1 is still in the file, under a grey box: the ink is not in place,
    # so the changed "region" (the whole page) is never pictured.
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(first_page(original_bytes))))
    box = DecodedStreamObject()
    box.set_data(b"q 0.3 g 0 0 595 842 re f Q\n")
    page = writer.pages[0]
    page[NameObject("/Contents")] = ArrayObject([*page["/Contents"], writer._add_object(box)])
    out = io.BytesIO()
    writer.write(out)
    result = verify_pdf(data=out.getvalue())
    assert "FR76 3000 6000 0112" in _page_text(out.getvalue())
    assert result.not_the_sealed_document
    assert result.page_diffs == [] and result.text_changes == []


def _page_text(pdf: bytes) -> str:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        return str(document[0].get_textpage().get_text_range())
    finally:
        document.close()


# --- page 1 alone ---------------------------------------------------------------------------------


def test_page_one_alone_matches_page_one_and_shows_nothing_of_the_other_pages(
    client: Client, original: SealedDocument, original_bytes: bytes
) -> None:
    data, html = ask(client, first_page(original_bytes))
    total = page_count(original_bytes)
    assert total >= 3  # two invoice pages and the certificate
    assert data["verdict"] == "modified"
    codes = [r["code"] for r in data["reasons"]]
    assert "pages_missing" in codes and "not_the_sealed_document" not in codes
    assert data["changes"]["disclosure"] == "restricted"
    assert data["changes"]["matched_pages"] == [{"page": 1, "original_page": 1}]
    assert data["changes"]["missing_pages"] == list(range(2, total + 1))
    assert data["changes"]["unmatched_pages"] == []
    assert data["changes"]["pages"] == [] and data["changes"]["text"] == []
    assert "Pages of the sealed document that are not in this file:" in html
    assert ", ".join(str(n) for n in range(2, total + 1)) in html
    # Page 1 is the upload's own: its words may be there. Nothing of page 2 or the certificate.
    for secret in ("Conditions générales", "Pénalités de retard", "203.0.113.5", "Firefox/140.0"):
        assert secret not in json.dumps(data, ensure_ascii=False) and secret not in html
    assert "data:image" not in html


def test_a_page_moved_to_the_front_is_matched_with_its_own_page(
    original: SealedDocument, original_bytes: bytes
) -> None:
    # Page 2 alone, then a page of another document: page 1 of the upload is page 2 of the
    # original; page 2 of the upload is named, and nothing of the original's page 1 is told.
    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(original_bytes)).pages[1])
    writer.add_page(PdfReader(io.BytesIO(pdfs.invoice_pdf())).pages[0])
    out = io.BytesIO()
    writer.write(out)
    result = verify_pdf(data=out.getvalue())
    assert result.matched_pages == {1: 2}
    assert result.unmatched_pages == [2]
    assert result.missing_pages == [1, *range(3, page_count(original_bytes) + 1)]
    assert {"pages_missing", "pages_unmatched", "pages_differ"} <= set(result.reasons)
    assert result.text_changes == [] and result.page_diffs == []


# --- a re-typed copy with one amount changed -----------------------------------------------------


def test_a_retyped_copy_shows_exactly_the_changed_amount_and_its_crops(
    client: Client, original: SealedDocument, original_bytes: bytes
) -> None:
    copy = with_stripe(invoice(amount="1 000,00 €"))
    data, html = ask(client, copy)
    assert data["verdict"] == "modified"
    assert "signature_missing" in [r["code"] for r in data["reasons"]]
    assert data["changes"]["text"] == [{"page": 1, "removed": AMOUNT, "added": "1 000,00 €"}]
    assert data["changes"]["matched_pages"] == [
        {"page": 1, "original_page": 1},
        {"page": 2, "original_page": 2},
    ]
    [page] = data["changes"]["pages"]
    assert page["page"] == 1
    [(x0, y0, x1, y1)] = page["regions"]
    # The amount is drawn at x=72pt, baseline 600pt from the bottom of an 842pt page.
    assert x0 >= 60 and x1 <= 300 and y0 >= 215 and y1 <= 265
    # Only the certificate pages are missing, by number.
    assert data["changes"]["missing_pages"] == list(range(3, page_count(original_bytes) + 1))
    # Two crops of that region (original, upload), a few points around it, never a page.
    pictures = images(html)
    assert len(pictures) == 2
    for picture in pictures:
        assert picture.width <= 2 * (x1 - x0 + 2 * 6) + 2
        assert picture.height <= 2 * (y1 - y0 + 2 * 6) + 2
    assert AMOUNT in html and "1 000,00 €" in html
    # Nothing else of the original: its other text, the certificate.
    for secret in ("203.0.113.5", "Firefox/140.0", "Safari/605.1"):
        assert secret not in html and secret not in json.dumps(data, ensure_ascii=False)


def test_a_page_with_a_fifth_of_its_words_replaced_is_not_a_page_of_the_original() -> None:
    words = [f"mot{i}" for i in range(20)]
    assert word_score(words, words[:16] + ["autre"] * 4) == 0.8
    assert word_score(words, words[:15] + ["autre"] * 5) < 0.8
    # Junk added around the original's words does not make a match either.
    assert word_score(words, words + ["bruit"] * 6) < 0.8


# --- the record alone for a code ------------------------------------------------------------------


def test_the_code_page_and_api_show_only_the_record(
    client: Client, original: SealedDocument
) -> None:
    page = client.get(reverse("verification:by_code", args=[CODE])).content.decode()
    data = client.get(reverse("verification:api_by_code", args=[CODE])).json()
    assert "Facture F-2026-00001" in page and data["title"] == "Facture F-2026-00001"
    dumped = json.dumps(data, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in page and secret not in dumped
    assert "data:image" not in page


# --- who sees the full comparison -----------------------------------------------------------------


@pytest.fixture
def envelope(company: OwnCompany, sender: User, original: SealedDocument) -> Any:
    from documents import services as document_services
    from signing import services, tokens
    from signing.models import Envelope, Party

    document = document_services.document_create_from_upload(
        uploaded_file=SimpleUploadedFile("facture.pdf", invoice(), "application/pdf"),
        title="Facture F-2026-00042",
        creator=sender,
        language="fr",
    )
    envelope = services.envelope_create(document=document, responsible=sender, language="fr")
    services.envelope_send(
        envelope=envelope,
        actor=sender,
        parties=[
            services.PartyInput(
                role="company", name="Claire Dubois", email="claire@atelier.fr", is_company=True
            ),
            services.PartyInput(role="client", name="Paul Martin", email="paul@martin.fr"),
        ],
        language="fr",
        deadline=timezone.now() + datetime.timedelta(days=10),
    )
    Envelope.objects.filter(pk=envelope.pk).update(
        sealed=original, status=Envelope.Status.COMPLETED, completed_at=timezone.now()
    )
    # The client has signed: their link (issued when their turn came) stays theirs.
    client_party = envelope.parties.get(role="client")
    nonce = tokens.new_nonce()
    envelope.signer_token = tokens.token_for(party_id=client_party.pk, nonce=nonce)
    Party.objects.filter(pk=client_party.pk).update(
        status=Party.Status.SIGNED,
        token_nonce=nonce,
        token_hash=tokens.hash_token(envelope.signer_token),
    )
    return envelope


def blank_with_code() -> bytes:
    return text_pdf([[(72, 700, 12, f"SignFlow {CODE}")]])


def compare(client: Client, url: str, data: bytes) -> Any:
    return client.post(url, {"file": SimpleUploadedFile("c.pdf", data, "application/pdf")})


def assert_full_comparison(html: str) -> None:
    assert "Full comparison" in html or "Comparaison complète" in html
    for secret in ("FR76 3000 6000", "12 rue des Lilas", "10 000,00"):
        assert secret in html
    assert len(images(html)) >= 2
    assert images(html)[0].width >= 595  # whole pages, side by side


def test_an_employee_of_the_sending_company_gets_the_full_comparison(
    client: Client, sender: User, envelope: Any
) -> None:
    client.force_login(sender)
    url = reverse("signing:envelope_compare", args=[envelope.pk])
    assert (
        url in client.get(reverse("signing:envelope_detail", args=[envelope.pk])).content.decode()
    )
    assert client.get(url).status_code == 200
    response = compare(client, url, blank_with_code())
    assert response.status_code == 200
    assert_full_comparison(response.content.decode())
    # The public page stays restricted, even for them: it is for anyone holding a file.
    data, html = ask(client, blank_with_code())
    assert_nothing_of_the_original(data, html)


def test_an_employee_of_another_company_and_a_stranger_do_not(
    client: Client, envelope: Any
) -> None:
    other = factories.make_company(
        legal_name="Autre Société SAS", siren="404833048", siret="40483304800010"
    )
    client.force_login(factories.make_user("eve.autre", company=other))
    url = reverse("signing:envelope_compare", args=[envelope.pk])
    assert client.get(url).status_code == 404
    assert compare(client, url, blank_with_code()).status_code == 404
    client.logout()
    response = compare(client, url, blank_with_code())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_signer_gets_the_full_comparison_through_their_link(
    client: Client, envelope: Any
) -> None:
    url = reverse("signing:signer_compare", args=[envelope.signer_token])
    sign_page = client.get(reverse("signing:sign", args=[envelope.signer_token]))
    assert url in sign_page.content.decode()
    response = compare(client, url, blank_with_code())
    assert response.status_code == 200
    assert_full_comparison(response.content.decode())


def test_a_signer_who_has_not_signed_gets_no_comparison(client: Client, envelope: Any) -> None:
    from signing import tokens

    party = envelope.parties.get(role="company")  # still "active": has not signed
    token = tokens.token_for(party_id=party.pk, nonce=party.token_nonce)
    response = compare(client, reverse("signing:signer_compare", args=[token]), blank_with_code())
    assert response.status_code == 404
    assert "FR76 3000 6000" not in response.content.decode()


def test_a_bomb_on_the_comparison_page_gets_a_form_error(client: Client, envelope: Any) -> None:
    from tests.security.test_pdf_bombs import SMALL_INFLATED, pdf_bomb

    url = reverse("signing:signer_compare", args=[envelope.signer_token])
    response = compare(client, url, pdf_bomb(SMALL_INFLATED))
    assert response.status_code == 422
    assert 'class="error"' in response.content.decode()
