"""The story's pages, seeded once per test module and served by a server thread of the module:
the phone-width test and the accessibility scan open every page of it, in English and French.

pytest-django's `live_server` flushes the database after each test, so a parametrized test
would seed the story (and seal a document) once per case; this server and its data live for the
module and the database is flushed when the module ends.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.db import connections
from django.test import Client, override_settings
from django.test.testcases import LiveServerThread

LANGUAGES = ("en", "fr")
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE_360 = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@dataclass
class StoryPage:
    """A page of the story: who opens it (a key of Story.sessions) and how to reach it."""

    name: str
    persona: str
    path: str
    # After the page loaded: an upload and a submit, for the result pages.
    then: Callable[[Any, Story], None] | None = None
    # A signer's page speaks its envelope's language whatever the browser asks: opened once.
    language: str = ""


@dataclass
class Story:
    base: str
    sealed_pdf: Path
    # persona -> session cookie value ("" for anonymous visitors).
    sessions: dict[str, str] = field(default_factory=dict)
    pages: list[StoryPage] = field(default_factory=list)

    def pages_in(self, language: str) -> list[StoryPage]:
        return [page for page in self.pages if page.language in {"", language}]

    def open(self, browser: Any, story_page: StoryPage, *, language: str, device: dict) -> Any:
        """A new context on `device` in `language` with the persona's session, on the page."""
        context = browser.new_context(locale="fr-FR" if language == "fr" else "en-GB", **device)
        cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": self.base}]
        session = self.sessions[story_page.persona.replace("{lang}", language)]
        if session:
            cookies.append(
                {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": self.base}
            )
        context.add_cookies(cookies)
        page = context.new_page()
        page.goto(self.base + story_page.path.replace("{lang}", language))
        if story_page.then is not None:
            story_page.then(page, self)
        return page


def _upload_and_submit(file_input: str, form: str, result: str) -> Callable[[Any, Story], None]:
    def then(page: Any, story: Story) -> None:
        page.set_input_files(file_input, str(story.sealed_pdf))
        page.click(f"{form} button.primary")
        page.wait_for_selector(result)

    return then


def _session(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _seed(base: str, tmp: Path) -> Story:
    from django.contrib.auth.models import User

    from crm.models import Invoice
    from signing import demo
    from signing.models import Envelope, Party
    from tests.signing.conftest import last_message, link_token, sign_with_code

    sealed = demo.demo_envelope(complete=True, language="fr")
    assert sealed.status == Envelope.Status.COMPLETED, sealed.sealing_error
    assert sealed.sealed is not None
    sealed_pdf = tmp / "sealed.pdf"
    with sealed.sealed.file.open("rb") as handle:
        sealed_pdf.write_bytes(handle.read())

    manager = Client()
    manager.force_login(User.objects.get(username="manager"))
    story = Story(
        base=base, sealed_pdf=sealed_pdf, sessions={"anonymous": "", "manager": _session(manager)}
    )

    # The director's link of a sent envelope in each language: its code step for a visitor
    # without a session, its signing step (the stamp box) once the code is confirmed.
    for index, language in enumerate(LANGUAGES, start=1):
        envelope = demo.demo_envelope(complete=False, language=language, invoice_index=index)
        director = envelope.parties.get(role=Party.Role.COMPANY)
        invitation = last_message(template="invitation", recipient=director.email)
        token = link_token(invitation)
        signer = Client()
        sign_with_code(signer, token, director.email)
        story.sessions[f"signer-{language}"] = _session(signer)
        story.pages += [
            StoryPage("signer code step", "anonymous", f"/s/{token}/", language=language),
            StoryPage(
                "signer signing step", f"signer-{language}", f"/s/{token}/", language=language
            ),
        ]
    sent = Envelope.objects.filter(status=Envelope.Status.AWAITING_COMPANY).order_by("id").first()
    assert sent is not None

    invoice = sealed.document.invoice
    deal = invoice.deal
    unsent = Invoice.objects.filter(deal__contact__isnull=False).order_by("id")[3]
    response = manager.post(f"/invoices/{unsent.pk}/send/")
    assert response.status_code == 302, response.content[:300]
    send_path = response["Location"]
    draft = Envelope.objects.filter(status=Envelope.Status.DRAFT).latest("id")

    story.pages += [
        StoryPage("login", "anonymous", "/login/"),
        StoryPage("board", "manager", "/board/"),
        StoryPage("list", "manager", "/board/list/"),
        StoryPage("team", "manager", "/board/team/"),
        StoryPage("deal", "manager", f"/crm/deals/{deal.pk}/"),
        StoryPage("invoice", "manager", f"/crm/invoices/{invoice.pk}/"),
        StoryPage("field editor", "manager", f"/documents/{draft.document_id}/fields/"),
        StoryPage("send screen", "manager", send_path),
        StoryPage("envelope", "manager", f"/envelopes/{sent.pk}/"),
        StoryPage("sealed envelope", "manager", f"/envelopes/{sealed.pk}/"),
        StoryPage("verify", "anonymous", "/verify/"),
        StoryPage(
            "verify result",
            "anonymous",
            "/verify/",
            _upload_and_submit("#verify-file", "#verify-form", "#verification-result"),
        ),
        StoryPage("verify by code", "anonymous", f"/verify/{sealed.sealed.code}/"),
        StoryPage("compare", "manager", f"/envelopes/{sealed.pk}/compare/"),
        StoryPage(
            "compare result",
            "manager",
            f"/envelopes/{sealed.pk}/compare/",
            _upload_and_submit("#compare-file", "#compare-form", ".verdict"),
        ),
    ]
    return story


@contextmanager
def serving(
    static_handler: Callable[[Any], Any] = StaticFilesHandler, **overrides: Any
) -> Iterator[str]:
    """A server thread on a free port, with `overrides` applied while it runs; yields its URL.
    StaticFilesHandler serves the source static files as runserver does; pass `lambda app: app`
    to have WhiteNoise serve STATIC_ROOT (compressed copies) as in production."""
    thread = LiveServerThread("127.0.0.1", static_handler, port=0)
    thread.daemon = True
    with override_settings(**overrides):
        thread.start()
        thread.is_ready.wait()
        try:
            if thread.error:
                raise thread.error
            base = f"http://127.0.0.1:{thread.port}"
            with override_settings(SIGNFLOW_BASE_URL=base):
                yield base
        finally:
            thread.terminate()


def in_own_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Runs ORM work in a thread of its own: Playwright's event loop may already run in this
    one, and sealing (pyHanko) calls asyncio.run()."""

    def run() -> Any:
        try:
            return function(*args)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@contextmanager
def committed_data(django_db_blocker: Any) -> Iterator[None]:
    """Lets a module fixture commit data for the whole module; the database is flushed after."""
    with django_db_blocker.unblock():
        try:
            yield
        finally:
            call_command("flush", interactive=False, verbosity=0)
            connections.close_all()


@pytest.fixture(scope="module")
def story(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Story]:
    tmp = tmp_path_factory.mktemp("story")
    # One code per browser context would hit the resend cooldown.
    with (
        committed_data(django_db_blocker),
        serving(MEDIA_ROOT=tmp / "media", SIGNFLOW_OTP_RESEND_COOLDOWN_SECONDS=0) as base,
    ):
        yield in_own_thread(_seed, base, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
