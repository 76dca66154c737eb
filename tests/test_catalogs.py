"""Translations: every French catalog is complete and compiled, French SMS stay short, and the
login and signing pages really come out in French.

The catalog checks use msgfmt (gettext is a system dependency, see scripts/system-deps.sh).
"""

import gettext
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from crm.models import Invoice, OwnCompany
from signing.models import Envelope, Message
from signing.notifications import render_message
from tests import factories
from tests.signing.conftest import code_in, last_message, link_token, send_form

BASE_DIR = Path(settings.BASE_DIR)
SKIP_DIRS = {".venv", "node_modules", "var", "static", "tests", "bench"}


def _catalogs(language: str) -> list[Path]:
    """locale/<language> of the project and of every app (any domain: django, djangojs)."""
    found = set((BASE_DIR / "locale" / language / "LC_MESSAGES").glob("*.po"))
    for child in BASE_DIR.iterdir():
        if child.is_dir() and child.name not in SKIP_DIRS and not child.name.startswith("."):
            found.update((child / "locale" / language / "LC_MESSAGES").glob("*.po"))
    return sorted(found)


FRENCH_CATALOGS = _catalogs("fr")
CATALOG_IDS = [str(p.relative_to(BASE_DIR)) for p in FRENCH_CATALOGS]
# Every compiled catalog, French and English: Django only ever reads the .mo files.
ALL_CATALOGS = FRENCH_CATALOGS + _catalogs("en")
ALL_CATALOG_IDS = [str(p.relative_to(BASE_DIR)) for p in ALL_CATALOGS]


def _msgfmt() -> str:
    path = shutil.which("msgfmt")
    assert path, "msgfmt not found: install gettext (scripts/system-deps.sh)"
    return path


def test_every_app_with_translations_has_a_french_catalog():
    expected = {"locale", "crm", "documents", "verification", "signing"}
    present = {p.relative_to(BASE_DIR).parts[0] for p in FRENCH_CATALOGS}
    assert expected <= present, f"missing French catalogs: {sorted(expected - present)}"


@pytest.mark.parametrize("po", FRENCH_CATALOGS, ids=CATALOG_IDS)
def test_french_catalog_is_complete_and_valid(po: Path, tmp_path: Path):
    result = subprocess.run(
        [_msgfmt(), "--check", "--statistics", "-o", str(tmp_path / "check.mo"), str(po)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    stats = result.stderr
    untranslated = re.search(r"(\d+) untranslated", stats)
    fuzzy = re.search(r"(\d+) fuzzy", stats)
    assert not untranslated, f"{po}: {stats.strip()}"
    assert not fuzzy, f"{po}: {stats.strip()}"
    assert re.search(r"\d+ translated message", stats), stats


@pytest.mark.parametrize("po", FRENCH_CATALOGS, ids=CATALOG_IDS)
def test_french_catalog_has_no_fuzzy_flag_even_on_the_header(po: Path):
    flagged = [
        n
        for n, line in enumerate(po.read_text(encoding="utf-8").splitlines(), 1)
        if line.startswith("#,") and "fuzzy" in line
    ]
    assert not flagged, f"{po}: fuzzy entries at lines {flagged}"


def _catalog(mo: Path) -> tuple[dict, str]:
    with mo.open("rb") as fh:
        translations = gettext.GNUTranslations(fh)
    catalog = dict(translations._catalog)  # type: ignore[attr-defined]
    header = catalog.pop("", "")
    plural = re.search(r"^Plural-Forms:.*$", header, re.MULTILINE)
    return catalog, plural.group(0) if plural else ""


@pytest.mark.parametrize("po", ALL_CATALOGS, ids=ALL_CATALOG_IDS)
def test_committed_mo_matches_its_po(po: Path, tmp_path: Path):
    """The .mo Django loads says exactly what the .po says: compilemessages was run."""
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run compilemessages"
    fresh = tmp_path / "fresh.mo"
    subprocess.run([_msgfmt(), "-o", str(fresh), str(po)], check=True, capture_output=True)
    assert _catalog(mo) == _catalog(fresh), f"{mo} is stale: run compilemessages"


# ---------------------------------------------------------------------------------------------
# SMS length

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each


def is_gsm7(text: str) -> bool:
    return all(c in GSM7 or c in GSM7_EXTENDED for c in text)


def sms_segments(text: str) -> int:
    if is_gsm7(text):
        length = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        return 1 if length <= 160 else math.ceil(length / 153)
    length = len(text.encode("utf-16-le")) // 2
    return 1 if length <= 70 else math.ceil(length / 67)


def test_segment_counter():
    assert sms_segments("a" * 160) == 1
    assert sms_segments("é" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    assert sms_segments("œ" * 70) == 1
    assert sms_segments("’" * 71) == 2
    assert sms_segments("«" + "a" * 134) == 3


TOKEN_LINK = "http://127.0.0.1:8000/s/" + "A" * 43 + "/"
SMS_CONTEXT = {
    "sender_company": "Atelier Lumière Conseil et Associés SAS",
    "title": "Contrat de prestation de services - Refonte du site web",
    "link": TOKEN_LINK,
    "download_link": TOKEN_LINK + "download/",
    "code": "482913",
    "minutes": 5,
    "signer_name": "Marie-Hélène Dubois-Lefèvre",
}
SMS_TEMPLATES = [
    Message.Template.INVITATION,
    Message.Template.CODE,
    Message.Template.REMINDER,
    Message.Template.COMPLETED,
    Message.Template.PARTY_SIGNED,
    Message.Template.DECLINED,
    Message.Template.CANCELLED,
    Message.Template.EXPIRED,
]


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("template", SMS_TEMPLATES)
def test_sms_fits_in_two_segments_and_stays_gsm7(template: str, language: str):
    body = render_message(template=template, channel="sms", language=language, context=SMS_CONTEXT)[
        "body"
    ]
    assert SMS_CONTEXT["title"] in body or template == Message.Template.CODE, body
    # A curly quote, « », œ, ç, ê or a no-break space in the wording would switch the whole SMS
    # to UCS-2 (70 characters a segment): the wording itself must stay GSM-7.
    assert is_gsm7(body), f"not GSM-7: {[c for c in body if not is_gsm7(c)]} in {body!r}"
    assert sms_segments(body) <= 2, (len(body), body)


def test_french_sms_are_french():
    invitation = render_message(
        template="invitation", channel="sms", language="fr", context=SMS_CONTEXT
    )["body"]
    code = render_message(template="code", channel="sms", language="fr", context=SMS_CONTEXT)[
        "body"
    ]
    assert "merci de signer" in invitation
    assert invitation.endswith(TOKEN_LINK)
    assert code.startswith("Code SignFlow : 482913.")
    assert sms_segments(code) == 1


def test_french_invitation_email_is_french():
    rendered = render_message(
        template="invitation",
        channel="email",
        language="fr",
        context={
            **SMS_CONTEXT,
            "party_name": "Paul Martin",
            "sender_name": "Sophie Bernard",
            "deadline": "27 décembre 2026 21:00",
            "company_name": SMS_CONTEXT["sender_company"],
            "note": "",
        },
    )
    assert rendered["subject"].endswith("vous invite à signer : " + SMS_CONTEXT["title"])
    assert rendered["body"].startswith("Bonjour Paul Martin,")
    assert "Ce lien est personnel." in rendered["body"]
    assert "Ouvrir et signer" in rendered["html"]


# ---------------------------------------------------------------------------------------------
# Pages in French


@pytest.mark.django_db
def test_login_page_in_french(client: Client):
    client.cookies["django_language"] = "fr"
    page = client.get("/login/").content.decode()
    assert '<html lang="fr">' in page
    assert "Connexion à SignFlow" in page
    assert "Nom d’utilisateur" in page
    assert "Mot de passe" in page
    assert "Log in" not in page


@pytest.mark.django_db
def test_login_page_follows_accept_language(client: Client):
    assert "Connexion" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Log in to SignFlow" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


@pytest.fixture
def french_invoice(settings, tmp_path: Path, company: OwnCompany, sender) -> Invoice:
    settings.MEDIA_ROOT = tmp_path / "media"
    deal = factories.make_deal(company=company, responsible=sender)
    return factories.make_invoice(deal, lines=[("Conception graphique", "1", "8333.33", "20")])


@pytest.fixture
def french_envelope(
    sender_client: Client, french_invoice: Invoice, django_capture_on_commit_callbacks
) -> Envelope:
    with django_capture_on_commit_callbacks(execute=True):
        response = sender_client.post(f"/invoices/{french_invoice.pk}/send/")
        assert response.status_code == 302, response.content[:500]
        response = sender_client.post(response["Location"], send_form(language="fr"))
        assert response.status_code == 302, response.content.decode()[:3000]
    envelope = Envelope.objects.get(document__invoice=french_invoice)
    assert envelope.language == "fr"
    return envelope


@pytest.mark.django_db
def test_french_envelope_signing_page_and_messages_are_french(french_envelope: Envelope):
    invitation = last_message(template="invitation", recipient="claire.dubois@atelier-lumiere.fr")
    assert invitation.body.startswith("Bonjour Claire Dubois,")
    assert "vous invite à signer" in invitation.subject

    signer = Client()
    signer.cookies["django_language"] = "en"  # the envelope's language wins for the signer
    token = link_token(invitation)
    page = signer.get(f"/s/{token}/").content.decode()
    assert '<html lang="fr">' in page
    assert "Confirmez votre identité" in page
    assert "M’envoyer le code" in page
    assert "Ce code vous sera demandé pour signer comme pour refuser." in page
    assert "Confirm your identity" not in page

    signer.post(f"/s/{token}/code/send/")
    code = last_message(template="code", recipient="claire.dubois@atelier-lumiere.fr")
    assert code.subject.startswith("Votre code de confirmation : ")
    # Declining, like signing, is offered once the code is confirmed.
    signer.post(f"/s/{token}/code/", {"code": code_in(code)})
    assert "Refuser de signer" in signer.get(f"/s/{token}/").content.decode()


@pytest.mark.django_db
def test_board_in_french(sender_client: Client, french_envelope: Envelope):
    sender_client.cookies["django_language"] = "fr"
    page = sender_client.get("/").content.decode()
    if "Documents à signer" not in page:  # "/" redirects to the board
        page = sender_client.get("/", follow=True).content.decode()
    assert "Documents à signer" in page
    assert "En attente de notre signature" in page
    assert "Relancer maintenant" in page
