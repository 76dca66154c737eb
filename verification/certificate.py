"""The certificate-of-completion pages appended to every sealed PDF (rendered by WeasyPrint)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

LOCAL_TZ = ZoneInfo("Europe/Paris")
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
PX_TO_PT = 0.75


def fonts_dir() -> Path:
    return Path(settings.BASE_DIR) / "static" / "fonts"


@dataclass(frozen=True)
class RenderedCertificate:
    pdf: bytes
    page_count: int
    # Where the visible seal goes: (page index within the certificate, x1, y1, x2, y2) in PDF
    # points from the bottom-left corner, as pyHanko expects.
    seal_box: tuple[int, int, int, int, int] | None


def _url_fetcher() -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    allowed = {(fonts_dir() / name).resolve().as_uri(): fonts_dir() / name for name in FONT_FILES}

    class ShippedFontsFetcher(URLFetcher):
        """Only data: URIs and our two shipped fonts: the page never reaches the network."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = allowed.get(url)
            if path is None:
                raise ValueError(f"Blocked resource on the certificate page: {url[:80]}")
            return URLFetcherResponse(
                url, body=path.read_bytes(), headers={"Content-Type": "font/ttf"}
            )

    return ShippedFontsFetcher(allowed_protocols={"data", "file"})


def parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def both_times(value: Any) -> dict[str, str]:
    """A time as UTC and as Paris local time, both unambiguous."""
    parsed = parse_time(value)
    if parsed is None:
        return {"utc": "—", "local": "—"}
    local = parsed.astimezone(LOCAL_TZ)
    return {
        "utc": parsed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "local": local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "") + " (Europe/Paris)",
    }


def _labels() -> dict[str, dict[str, str]]:
    return {
        "role": {"company": _("Company (sender)"), "client": _("Counterparty")},
        "channel": {"email": _("email"), "sms": _("SMS")},
        "method": {
            "drawn": _("drawn by hand"),
            "typed": _("typed name"),
            "uploaded": _("uploaded image"),
            "auto": _("applied automatically"),
        },
    }


def removed_items(removed: Any) -> list[str]:
    """What was taken out of the uploaded file (documents.sanitize's keys), in words."""
    if not isinstance(removed, dict):
        return []

    def count(key: str) -> int:
        try:
            return max(0, int(removed.get(key) or 0))
        except (TypeError, ValueError):
            return 0

    items = []
    for key, label in (
        ("javascript", _("JavaScript (%(count)d)")),
        ("actions", _("automatic actions (%(count)d)")),
        ("launch", _("commands that launch a program (%(count)d)")),
        ("uri", _("links to web addresses (%(count)d)")),
        ("remote", _("form submissions and links to other files (%(count)d)")),
        ("multimedia", _("multimedia content (%(count)d)")),
    ):
        if count(key):
            items.append(label % {"count": count(key)})
    files = count("embedded_files")
    if files:
        names = [str(name) for name in removed.get("embedded_file_names") or []][:20]
        quoted = ", ".join(pgettext("quoted file name", "'%(name)s'") % {"name": n} for n in names)
        if files == 1 and quoted:
            items.append(_("an embedded file %(name)s") % {"name": quoted})
        else:
            items.append(
                ngettext(
                    "%(count)d embedded file %(names)s",
                    "%(count)d embedded files %(names)s",
                    files,
                )
                % {"count": files, "names": quoted}
            )
    if count("xfa"):
        items.append(_("an XFA form"))
    if count("form_fields"):
        items.append(_("form fields flattened (%(count)d)") % {"count": count("form_fields")})
    return items


def render_certificate(
    *, metadata: dict[str, Any], verify_url: str, sealed_at: dt.datetime, tsa_name: str
) -> RenderedCertificate:
    import segno
    from weasyprint import CSS, HTML

    language = metadata.get("language") or settings.LANGUAGE_CODE
    with translation.override(language):
        labels = _labels()
        parties = []
        for party in metadata.get("parties", []):
            channel = party.get("channel", "")
            parties.append(
                {
                    "role": labels["role"].get(party.get("role"), party.get("role", "")),
                    "name": party.get("name", ""),
                    "company": party.get("company", ""),
                    "contact": party.get("contact_masked", ""),
                    "channel": labels["channel"].get(channel, channel),
                    "method": labels["method"].get(party.get("method"), party.get("method", "")),
                    "ip": party.get("ip", ""),
                    "user_agent": party.get("user_agent", ""),
                    "opened": both_times(party.get("opened_at")),
                    "otp": both_times(party.get("otp_confirmed_at")),
                    "signed": both_times(party.get("signed_at")),
                }
            )
        qr = segno.make(verify_url, error="m").svg_data_uri(scale=3, border=2)
        html = render_to_string(
            "verification/certificate.html",
            {
                "m": metadata,
                "sender": metadata.get("sender") or {},
                "parties": parties,
                "verify_url": verify_url,
                "qr": qr,
                "created": both_times(metadata.get("created_at")),
                "sent": both_times(metadata.get("sent_at")),
                "sealed": both_times(sealed_at),
                "tsa_name": tsa_name,
                "language": language,
                "removed": removed_items(metadata.get("removed")),
            },
        )
    font_css = "".join(
        f'@font-face {{ font-family: "SF DejaVu"; font-weight: {weight}; '
        f'src: url("{(fonts_dir() / name).resolve().as_uri()}"); }}'
        for name, weight in zip(FONT_FILES, ("normal", "bold"), strict=True)
    )
    fetcher = _url_fetcher()
    document = HTML(string=html, url_fetcher=fetcher).render(
        stylesheets=[CSS(string=font_css, url_fetcher=fetcher)]
    )
    seal_box = None
    for index, page in enumerate(document.pages):
        anchor = page.anchors.get("seal-box")
        if anchor:
            x1, y1, x2, y2 = anchor
            height_pt = page.height * PX_TO_PT
            seal_box = (
                index,
                round(x1 * PX_TO_PT),
                round(height_pt - y2 * PX_TO_PT),
                round(x2 * PX_TO_PT),
                round(height_pt - y1 * PX_TO_PT),
            )
    return RenderedCertificate(
        pdf=document.write_pdf(), page_count=len(document.pages), seal_box=seal_box
    )
