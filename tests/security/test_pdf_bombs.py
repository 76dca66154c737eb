"""Compressed PDF bombs: a 20 MB file whose page content inflates to ~20 GiB of spaces.

Every parse of a stranger's PDF runs in a bounded child process (signflow.pdfguard): the public
verification page and API and the document upload answer clearly and quickly, and the last test
runs gunicorn and checks that the web workers neither grow nor stop answering /healthz.
"""

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pypdf import PdfWriter

from documents.errors import DocumentError
from documents.models import Document
from documents.services import document_create_from_upload
from documents.text_tags import find_tags
from documents.uploads import check_pdf
from signflow import pdfguard

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 16 * 1024 * 1024
BIG_INFLATED = 1260 * CHUNK  # 19.7 GiB of spaces in a 20.6 MB file (under the 20 MiB limit)
SMALL_INFLATED = 64 * CHUNK  # 1 GiB in about 1 MB
PORT = 18101
TOO_COMPLEX_EN = "could not be analysed within our limits"


def deflate_spaces(inflated: int) -> bytes:
    """A zlib stream of `inflated` spaces, without ever holding or compressing them all.

    After a full flush the compressor starts afresh, so the deflate blocks of each 16 MB chunk
    are the same bytes: compress one chunk, repeat it, close with an empty final block and the
    Adler-32 of the whole (computed in closed form for a constant byte).
    """
    assert inflated % CHUNK == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(b" " * CHUNK) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = compressor.flush(zlib.Z_FINISH)
    n, c = inflated, ord(" ")
    a = (1 + n * c) % 65521
    b = (n + c * n * (n + 1) // 2) % 65521
    return b"\x78\xda" + block * (inflated // CHUNK) + final + ((b << 16) | a).to_bytes(4, "big")


def pdf_bomb(inflated: int) -> bytes:
    """A valid one-page PDF whose content stream is `inflated` bytes of spaces."""
    stream = deflate_spaces(inflated)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture(scope="session")
def big_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.getbasetemp() / "bomb-20mb.pdf"
    if not path.exists():
        path.write_bytes(pdf_bomb(BIG_INFLATED))
    return path


@pytest.fixture(scope="session")
def small_bomb() -> bytes:
    return pdf_bomb(SMALL_INFLATED)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "keys"


@pytest.fixture(autouse=True)
def isolated(settings: Any, keys_dir: Path) -> None:
    cache.clear()  # rate limits
    settings.SIGNFLOW_KEYS_DIR = keys_dir
    settings.TSA_URL = ""
    settings.SEAL_PKCS12_PATH = ""


def test_the_bomb_is_a_valid_pdf_that_inflates_to_what_it_says(small_bomb):
    start = small_bomb.index(b"stream\n") + len(b"stream\n")
    inflater = zlib.decompressobj()
    total = 0
    data = small_bomb[start:]
    while data and not inflater.eof:
        out = inflater.decompress(data, CHUNK)
        total += len(out)
        assert out.strip(b" ") == b""
        data = inflater.unconsumed_tail
    assert inflater.eof  # the Adler-32 checked out
    assert total == SMALL_INFLATED
    assert len(small_bomb) < 1.1 * 1024 * 1024


def test_api_answers_too_complex_quickly(db: None, client: Client, big_bomb: Path):
    started = time.monotonic()
    with big_bomb.open("rb") as fh:
        response = client.post("/api/verify", {"file": fh}, HTTP_ACCEPT_LANGUAGE="en")
    elapsed = time.monotonic() - started
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "too_complex"
    assert TOO_COMPLEX_EN in body["error"]["message"]
    assert body["verdict"] is None
    assert elapsed < 30  # the first call also starts the fork server (a few seconds)


def test_verification_page_says_the_file_could_not_be_analysed(
    db: None, client: Client, small_bomb: bytes
):
    upload = SimpleUploadedFile("facture.pdf", small_bomb, "application/pdf")
    response = client.post(reverse("verification:verify"), {"file": upload})
    assert response.status_code == 422
    assert TOO_COMPLEX_EN in response.content.decode()


def test_verification_page_says_it_in_french(db: None, small_bomb: bytes):
    client = Client(HTTP_ACCEPT_LANGUAGE="fr")
    upload = SimpleUploadedFile("facture.pdf", small_bomb, "application/pdf")
    response = client.post(reverse("verification:verify"), {"file": upload})
    assert response.status_code == 422
    with translation.override("fr"):
        message = str(pdfguard.PdfTooComplex.default_message)
    assert "limites" in message
    assert message in response.content.decode().replace("&#x27;", "'")


def test_an_uploaded_bomb_gets_a_form_error_and_nothing_is_stored(
    sender_client: Client, big_bomb: Path
):
    started = time.monotonic()
    with big_bomb.open("rb") as fh:
        response = sender_client.post(
            reverse("documents:upload"),
            {"title": "Contrat piégé", "file": fh, "language": "en"},
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 200
    assert TOO_COMPLEX_EN in response.content.decode()
    assert Document.objects.count() == 0
    assert time.monotonic() - started < 30


def test_a_stored_page_too_heavy_to_render_gets_a_422_not_a_500(
    settings: Any, tmp_path: Path, sender_client: Client, sender: Any, small_bomb: bytes
):
    # Whatever got stored (here a bomb written over a checked upload), previews render it in
    # the bounded child too.
    settings.MEDIA_ROOT = tmp_path / "media"
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    blank = io.BytesIO()
    writer.write(blank)
    document = document_create_from_upload(
        uploaded_file=SimpleUploadedFile("contrat.pdf", blank.getvalue(), "application/pdf"),
        title="Contrat",
        creator=sender,
        language="en",
    )
    Path(document.pdf.path).write_bytes(small_bomb)
    response = sender_client.get(
        reverse("documents:page_image", args=[document.pk, 1]), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 422
    assert TOO_COMPLEX_EN in response.content.decode()


def test_text_tags_of_a_bomb_raise_a_document_error(small_bomb):
    with pytest.raises(DocumentError) as caught:
        find_tags(small_bomb)
    assert TOO_COMPLEX_EN in caught.value.message
    assert isinstance(caught.value.__cause__, pdfguard.PdfTooComplex)


def test_the_comparison_with_a_sealed_original_is_bounded_too(small_bomb):
    from verification.diffing import compare_pdfs

    with pytest.raises(pdfguard.PdfTooComplex):
        compare_pdfs(original=small_bomb, submitted=io.BytesIO(small_bomb), full=True)


def test_pdfium_past_the_memory_limit_is_stopped_by_rlimit_as(settings, small_bomb):
    # Without the inflation pre-check, pdfium allocates until the address-space limit aborts it.
    settings.SIGNFLOW_PDF_STREAM_MAX_MB = 100_000
    settings.SIGNFLOW_PDF_PARSE_MAX_MB = 400
    with pytest.raises(DocumentError) as caught:
        find_tags(small_bomb)
    assert isinstance(caught.value.__cause__, pdfguard.PdfOutOfMemory)


def test_a_parse_past_the_time_limit_is_killed(settings):
    settings.SIGNFLOW_PDF_PARSE_SECONDS = 1
    started = time.monotonic()
    with pytest.raises(pdfguard.PdfTooSlow):
        pdfguard.run(time.sleep, 30)
    assert time.monotonic() - started < 5


def test_a_cpu_bound_parse_is_stopped_by_rlimit_cpu(settings):
    settings.SIGNFLOW_PDF_PARSE_SECONDS = 1
    with pytest.raises(pdfguard.PdfTooSlow):
        # pow() of huge numbers holds the CPU without returning to Python in between.
        pdfguard.run(pow, 7, 10**9)


def test_the_function_s_own_errors_and_the_caller_s_settings_reach_the_child(settings):
    settings.SIGNFLOW_UPLOAD_MAX_PAGES = 0
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    with translation.override("en"), pytest.raises(DocumentError) as caught:
        check_pdf(out.getvalue())
    assert "the limit is 0" in caught.value.message


def test_an_image_stream_may_inflate_more_than_a_page_content_stream():
    too_big_for_content = pdf_bomb(3 * CHUNK)  # 48 MB
    with pytest.raises(pdfguard.PdfTooComplex):
        pdfguard._check_inflation(too_big_for_content, 128 << 20)
    as_image = too_big_for_content.replace(
        b"<< /Length", b"<< /Subtype /Image /Length"
    )  # the same stream declared as an image
    pdfguard._check_inflation(as_image, 128 << 20)


# --- acceptance: gunicorn, three 20 MB bombs verified and uploaded at once ------------------


def _gunicorn_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SIGNFLOW_"))}
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="signflow.settings",
        DEBUG="0",
        SECRET_KEY="bombs-acceptance-secret-key-not-for-production",
        DATABASE_URL=f"sqlite:///{var_dir / 'db.sqlite3'}",
        SIGNFLOW_VAR_DIR=str(var_dir),
        MEDIA_ROOT=str(var_dir / "media"),
        ALLOWED_HOSTS="127.0.0.1",
        SIGNFLOW_BASE_URL=f"http://127.0.0.1:{PORT}",
        SIGNFLOW_VERIFY_RATE_PER_MINUTE="100",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


SETUP_SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from tests import factories
user = factories.make_user("bombs.tester", company=factories.make_company())
client = Client()
client.force_login(user)
print(client.cookies["sessionid"].value)
"""


def _compose_option(name: str) -> int:
    """--workers / --threads of the web service in docker-compose.yml: the test runs what is
    deployed."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]
    found = re.search(rf"--{name}[ =](\d+)", command["command"])
    return int(found.group(1)) if found else 1


def _status(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                values[name] = int(rest.split()[0]) // 1024  # MB
    return values


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return {int(child) for child in fh.read().split()}


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    env = _gunicorn_env(var_dir)
    setup = subprocess.run(
        [sys.executable, "-c", SETUP_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    session = setup.stdout.decode().strip().splitlines()[-1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "signflow.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(_compose_option("workers")),
            "--threads",
            str(_compose_option("threads")),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "gunicorn.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{PORT}/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text())
        yield process, session
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_three_20_mb_bombs_verified_and_uploaded_at_once_leave_the_web_workers_healthy(
    gunicorn, big_bomb: Path
):
    process, session = gunicorn
    base = f"http://127.0.0.1:{PORT}"
    workers = _children(process.pid)
    assert len(workers) == _compose_option("workers")
    data = big_bomb.read_bytes()
    assert 20_000_000 < len(data) < 20 * 1024 * 1024

    def verify(content: bytes = data) -> requests.Response:
        return requests.post(
            f"{base}/api/verify",
            files={"file": ("bomb.pdf", content, "application/pdf")},
            headers={"Accept-Language": "en"},
            timeout=60,
        )

    def upload() -> requests.Response:
        browser = requests.Session()
        browser.cookies.set("sessionid", session)
        browser.headers["Accept-Language"] = "en"
        page = browser.get(f"{base}/documents/upload/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None, page.status_code
        return browser.post(
            f"{base}/documents/upload/",
            data={"csrfmiddlewaretoken": token.group(1), "title": "Bombe", "language": "en"},
            files={"file": ("bomb.pdf", data, "application/pdf")},
            headers={"Referer": f"{base}/documents/upload/"},
            timeout=60,
        )

    # Warm up as a running site is: each worker has imported pyHanko (about 1 s, once) and its
    # fork server is up. A blank PDF verified a few times reaches every worker.
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    blank = io.BytesIO()
    writer.write(blank)
    for _ in range(3 * len(workers)):
        assert verify(blank.getvalue()).json()["verdict"] == "unknown"

    latencies: list[float] = []
    peaks: dict[int, int] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            started = time.monotonic()
            response = requests.get(f"{base}/healthz", timeout=10)
            latencies.append(time.monotonic() - started)
            assert response.status_code == 200
            for pid in workers:
                peaks[pid] = max(peaks.get(pid, 0), _status(pid)["VmRSS"])
            stop.wait(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            verifying = [pool.submit(verify) for _ in range(3)]
            uploading = [pool.submit(upload) for _ in range(3)]
            verified = [future.result() for future in verifying]
            uploaded = [future.result() for future in uploading]
        elapsed = time.monotonic() - started
        time.sleep(0.5)
    finally:
        stop.set()
        watcher.join()

    for response in verified:
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "too_complex"
    for response in uploaded:
        assert response.status_code == 200
        assert TOO_COMPLEX_EN in response.text
    # No worker died or was replaced: the peaks below are of the processes that did the work.
    assert _children(process.pid) == workers
    high_water = {pid: _status(pid)["VmHWM"] for pid in workers}
    report = (
        f"3 bombs verified and 3 uploaded at once, answered in {elapsed:.1f}s; healthz max "
        f"{max(latencies) * 1000:.0f} ms over {len(latencies)} probes; worker VmHWM "
        f"{high_water} MB, sampled VmRSS max {peaks} MB"
    )
    print(report)
    assert len(latencies) >= 5, report
    # The suite runs one test process per core: a probe may wait for the CPU once, never for
    # a worker stuck on a bomb (that would hold every probe of the run).
    assert sum(latency >= 1.0 for latency in latencies) <= 1, report
    assert max(latencies) < 5.0, report
    assert max(high_water.values()) < 400, report
