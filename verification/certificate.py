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
MM_TO_PT = 72 / 25.4


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
        "role": {"company": _("Sending company"), "client": _("Counterparty")},
        "channel": {"email": _("email"), "sms": _("SMS")},
        "method": {
            "drawn": _("drawn by hand"),
            "typed": _("typed name"),
            "uploaded": _("uploaded image"),
            "auto": _("applied automatically"),
        },
        "image": {
            "signature": _("Signature"),
            "initials": _("Initials"),
            "stamp": _("Stamp"),
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


# The certificate page takes the document's page size (a Letter document gets a Letter page)
# unless that page is too small for the certificate's tables: then A4.
A4_PT = (595.28, 841.89)
MIN_PAGE_PT = (500.0, 500.0)  # about 17.6 cm: narrower pages get A4
MAX_PAGE_PT = (14400.0, 14400.0)  # the PDF limit (200 inches)


def certificate_page_size(page_size: tuple[float, float] | None) -> tuple[float, float]:
    if not page_size:
        return A4_PT
    width, height = (float(v) for v in page_size)
    if not (
        MIN_PAGE_PT[0] <= width <= MAX_PAGE_PT[0] and MIN_PAGE_PT[1] <= height <= MAX_PAGE_PT[1]
    ):
        return A4_PT
    return (round(width, 2), round(height, 2))


def level_statement() -> str:
    """The legal level of what SignFlow produces, stated plainly (certificate and verify page)."""
    return _(
        "Level: simple electronic signatures within the meaning of Regulation (EU) No 910/2014 "
        "(eIDAS), sealed with an electronic seal of the company operating this SignFlow "
        "service. Neither the signatures nor the seal are qualified."
    )


def _image_uri(value: Any) -> str:
    """Only PNG data URIs reach the page (signing hands over the stored PNG files)."""
    text = str(value or "")
    return text if text.startswith("data:image/png;base64,") else ""


def _event_rows(metadata: dict[str, Any], labels: dict[str, dict[str, str]]) -> list[dict]:
    rows = []
    for number, event in enumerate(metadata.get("events") or [], start=1):
        if not isinstance(event, dict):
            continue
        channel = str(event.get("channel") or "")
        attempt = event.get("code_attempt")
        rows.append(
            {
                "number": number,
                "time": both_times(event.get("at")),
                "label": str(event.get("label") or event.get("type") or ""),
                "actor": str(event.get("actor") or ""),
                "ip": str(event.get("ip") or ""),
                "user_agent": str(event.get("user_agent") or ""),
                "channel": labels["channel"].get(channel, channel),
                "recipient": str(event.get("recipient_masked") or ""),
                "provider_id": str(event.get("provider_message_id") or ""),
                "attempt": attempt if isinstance(attempt, int) else None,
            }
        )
    return rows


def _party_rows(metadata: dict[str, Any], labels: dict[str, dict[str, str]]) -> list[dict]:
    parties = []
    for party in metadata.get("parties", []):
        channel = party.get("channel", "")
        images = [
            {
                "kind": labels["image"].get(str(i.get("kind")), ""),
                "uri": _image_uri(i.get("data_uri")),
                "sha256": str(i.get("sha256") or ""),
            }
            for i in party.get("images") or []
            if isinstance(i, dict) and _image_uri(i.get("data_uri"))
        ]
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
                "consent_text": str(party.get("consent_text") or ""),
                "consent_version": str(party.get("consent_version") or ""),
                "images": images,
            }
        )
    return parties


def certificate_html(
    *,
    metadata: dict[str, Any],
    verify_url: str,
    sealed_at: dt.datetime,
    tsa_name: str,
    page_size: tuple[float, float] | None = None,
    signed_sha256: str = "",
) -> str:
    """The certificate pages' HTML, in the envelope's language (write_certificate_pdf renders
    it). `signed_sha256` is the hash of the signed document before the stripe, this
    certificate and the seal were added; `page_size` that of its first page."""
    import segno

    language = metadata.get("language") or settings.LANGUAGE_CODE
    width, height = certificate_page_size(page_size)
    with translation.override(language):
        labels = _labels()
        qr = segno.make(verify_url, error="m").svg_data_uri(scale=3, border=2)
        return render_to_string(
            "verification/certificate.html",
            {
                "m": metadata,
                "sender": metadata.get("sender") or {},
                "parties": _party_rows(metadata, labels),
                "verify_url": verify_url,
                "qr": qr,
                "created": both_times(metadata.get("created_at")),
                "sent": both_times(metadata.get("sent_at")),
                "sealed": both_times(sealed_at),
                "tsa_name": tsa_name,
                "language": language,
                "removed": removed_items(metadata.get("removed")),
                "events": _event_rows(metadata, labels),
                "signed_sha256": signed_sha256,
                "level": level_statement(),
                "page_width": f"{width}pt",
                "page_height": f"{height}pt",
                # What is left beside the seal box (62 mm + 6 mm gap, 4 mm for the cell padding)
                # within 14 mm margins.
                "seal_table_width": f"{width - (28 + 72) * MM_TO_PT:.1f}pt",
            },
        )


def write_certificate_pdf(html: str) -> RenderedCertificate:
    """One WeasyPrint render of the certificate's HTML, and where its seal box landed."""
    from weasyprint import CSS, HTML

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
