"""The public verification pages, through the HTTP client."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tests.verification import pdfs
from verification.models import SealedDocument


def upload(client: Client, data: bytes, name: str = "facture.pdf", **extra: Any) -> Any:
    return client.post(
        reverse("verification:verify"),
        {"file": SimpleUploadedFile(name, data, content_type="application/pdf")},
        **extra,
    )


def test_the_form_is_public(client: Client, db: None) -> None:
    response = client.get(reverse("verification:verify"))
    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content


def test_it_says_authentic_for_an_uploaded_sealed_file(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    response = upload(client, sealed_bytes)
    assert response.status_code == 200
    assert b'class="verdict authentic"' in response.content
    assert "Facture F-2026-00001" in response.content.decode()
    assert "Jean Dupont" in response.content.decode()


def test_it_says_unknown_for_an_uploaded_unrelated_pdf(client: Client, db: None) -> None:
    response = upload(client, pdfs.invoice_pdf())
    assert response.status_code == 200
    assert b'class="verdict unknown"' in response.content


def test_it_shows_the_changed_amount_side_by_side_for_a_tampered_upload(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    from tests.verification.test_verify import change_amount

    response = upload(client, change_amount(sealed_bytes))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="verdict modified"' in body
    assert "10 000,00 €" in body and "1 000,00 €" in body
    assert body.count("data:image/png;base64,") == 2


def test_it_explains_a_file_that_is_not_a_pdf(client: Client, db: None) -> None:
    response = upload(client, b"GIF89a not a pdf", name="photo.gif")
    assert response.status_code == 400
    assert b'class="error"' in response.content


def test_it_asks_for_a_file_when_none_is_sent(client: Client, db: None) -> None:
    response = client.post(reverse("verification:verify"), {})
    assert response.status_code == 400
    assert b'class="error"' in response.content


def test_it_refuses_a_declared_too_large_upload_before_reading_it(
    client: Client, db: None, settings: Any
) -> None:
    settings.SIGNFLOW_UPLOAD_MAX_BYTES = 1000
    response = client.post(
        reverse("verification:verify"),
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(200 * 1024),
    )
    assert response.status_code == 400
    assert b'class="error"' in response.content


def test_it_refuses_an_upload_that_grows_past_the_limit_while_streaming(
    client: Client, db: None, settings: Any
) -> None:
    settings.SIGNFLOW_UPLOAD_MAX_BYTES = 10_000
    response = upload(client, b"%PDF-1.7\n" + b"0" * 30_000)
    assert response.status_code == 400
    assert b'class="error"' in response.content


def test_the_code_page_shows_metadata_but_not_the_content(
    client: Client, sealed: SealedDocument
) -> None:
    response = client.get(reverse("verification:by_code", args=[sealed.code]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Facture F-2026-00001" in body
    assert "+33 6** ** ** 78" in body
    assert "198.51.100.7" not in body  # IP addresses stay on the certificate page
    assert "10 000,00" not in body


def test_an_unknown_code_gives_a_clear_404(client: Client, db: None) -> None:
    response = client.get(reverse("verification:by_code", args=["NOPE00000000"]))
    assert response.status_code == 404
    assert b'class="error"' in response.content


def test_the_root_certificate_can_be_downloaded(client: Client, db: None) -> None:
    response = client.get(reverse("verification:root_certificate"))
    assert response.status_code == 200
    assert response.content.startswith(b"-----BEGIN CERTIFICATE-----")
    assert response["Content-Disposition"].startswith("attachment")


def test_an_upload_is_hashed_while_it_streams_in_not_read_again(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes, monkeypatch: Any
) -> None:
    from verification import services

    def no_second_pass(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the upload was hashed a second time")

    monkeypatch.setattr(services, "hash_stream", no_second_pass)
    response = upload(client, sealed_bytes)
    assert b'class="verdict authentic"' in response.content


def test_a_large_upload_is_spooled_to_disk_and_verified(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes, settings: Any
) -> None:
    # Over FILE_UPLOAD_MAX_MEMORY_SIZE Django writes the upload to a temporary file; the
    # verdict is computed from that file without loading it in memory.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = upload(client, sealed_bytes)
    assert b'class="verdict authentic"' in response.content


def test_the_page_speaks_french_to_a_french_browser(
    client: Client, sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    response = upload(client, sealed_bytes, HTTP_ACCEPT_LANGUAGE="fr")
    body = response.content.decode()
    assert "Authentique" in body
    assert "Vérifier un document" in body


def test_the_page_speaks_english_to_an_english_browser(client: Client, db: None) -> None:
    response = upload(client, pdfs.invoice_pdf(), HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert "cannot vouch for it" in body


def test_the_upload_form_works_with_csrf_checks_on(
    sealed: SealedDocument, sealed_bytes: bytes
) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get(reverse("verification:verify"))
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        reverse("verification:verify"),
        {
            "csrfmiddlewaretoken": token,
            "file": SimpleUploadedFile("f.pdf", sealed_bytes, content_type="application/pdf"),
        },
    )
    assert b'class="verdict authentic"' in response.content


def test_an_upload_without_csrf_token_is_refused(db: None) -> None:
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(
        reverse("verification:verify"),
        {"file": SimpleUploadedFile("f.pdf", b"%PDF-1.7", content_type="application/pdf")},
    )
    assert response.status_code == 403
