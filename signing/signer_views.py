"""The signer's pages: opened from a link, no account. Mobile first."""

import io
import mimetypes
from functools import lru_cache
from typing import Any

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from documents.models import Field
from signflow import net, pdfguard
from signflow.text import clean_text
from signing import images, services
from signing.models import Envelope, FieldValue, Party

SESSION_KEY = "signflow-otp-confirmed"
# A link of a cancelled, declined or expired envelope is dead: it says why, and shows nothing
# of the document any more.
DEAD_LINK_PROBLEMS = {"cancelled", "declined", "expired"}


def client_ip(request: HttpRequest) -> str | None:
    return net.client_ip(request)


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:400]


def _party(token: str) -> Party:
    party = services.party_for_token(token)
    if party is None:
        raise Http404(_("This link is not valid. Check that you opened the whole link."))
    return party


def _confirmed(request: HttpRequest, party: Party) -> bool:
    return party.otp_confirmed_at is not None and party.pk in request.session.get(SESSION_KEY, [])


@lru_cache(maxsize=256)
def _page_sizes(sha256: str, path: str) -> list[tuple[float, float]]:
    """(width, height) of each page as displayed (after /Rotate, visible box): the space of
    the Field rectangles and of the page images the boxes are laid over."""
    from pypdf import PdfReader

    from documents.uploads import PageGeometry

    with open(path, "rb") as fh:
        reader = PdfReader(io.BytesIO(fh.read()))
        geometries = [PageGeometry.of(p) for p in reader.pages]
        return [(geometry.width, geometry.height) for geometry in geometries]


def _document_fields(envelope: Envelope) -> list[Field]:
    """Every field of the document in reading order, each with `is_filled`: one query serves
    both the page boxes and the party's own form."""
    return list(
        Field.objects.filter(document_id=envelope.document_id)
        .annotate(is_filled=Exists(FieldValue.objects.filter(field_id=OuterRef("pk"))))
        .order_by("page", "-y", "x")
    )


def _pages(envelope: Envelope, party: Party, fields: list[Field]) -> list[dict[str, Any]]:
    document = envelope.document
    sizes = _page_sizes(document.sha256, document.pdf.path)
    pages: list[dict[str, Any]] = [{"number": n + 1, "boxes": []} for n in range(len(sizes))]
    for field in fields:
        if field.page > len(sizes):
            continue
        width, height = sizes[field.page - 1]
        pages[field.page - 1]["boxes"].append(
            {
                "field": field,
                "mine": field.role == party.role,
                "filled": field.is_filled,  # type: ignore[attr-defined]
                "left": 100 * field.x / width,
                "top": 100 * (height - field.y - field.height) / height,
                "width": 100 * field.width / width,
                "height": 100 * field.height / height,
            }
        )
    return pages


@never_cache
def sign_page(request: HttpRequest, token: str) -> HttpResponse:
    party = _party(token)
    envelope = party.envelope
    translation.activate(envelope.language)
    request.LANGUAGE_CODE = envelope.language
    problem = services.link_problem(party)
    if problem is None:
        services.party_open(party=party, ip=client_ip(request), user_agent=user_agent(request))
    fields = _document_fields(envelope)
    my_fields = [f for f in fields if f.role == party.role]
    context = {
        "party": party,
        "envelope": envelope,
        "token": token,
        "problem": problem,
        "problem_message": services.LINK_MESSAGES.get(problem or "", ""),
        "confirmed": _confirmed(request, party),
        "pages": [] if problem in DEAD_LINK_PROBLEMS else _pages(envelope, party, fields),
        "has_signature": any(
            f.kind in {Field.Kind.SIGNATURE, Field.Kind.INITIALS} for f in my_fields
        ),
        "stamp_fields": [f for f in my_fields if f.kind == Field.Kind.STAMP],
        "input_fields": [f for f in my_fields if not f.is_image and f.kind != Field.Kind.DATE],
        "default_stamp": envelope.company.default_stamp
        if party.role == Party.Role.COMPANY and envelope.company and envelope.company.default_stamp
        else None,
        "masked_recipient": services.mask_phone(party.phone)
        if party.channel == Party.Channel.SMS
        else services.mask_email(party.email),
        "download_available": services.download_available(envelope)
        and party.status == Party.Status.SIGNED,
        "retention_days": services.settings.SIGNFLOW_DOWNLOAD_RETENTION_DAYS,
    }
    status = 200 if problem in (None, "signed") else 410
    return render(request, "signing/sign.html", context, status=status)


def _back(token: str) -> HttpResponse:
    return redirect("signing:sign", token=token)


@require_POST
def code_send(request: HttpRequest, token: str) -> HttpResponse:
    party = _party(token)
    translation.activate(party.envelope.language)
    try:
        services.otp_send(party=party, ip=client_ip(request), user_agent=user_agent(request))
    except services.SigningError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("We sent you a 6-digit code. It is valid for 5 minutes."))
    return _back(token)


@require_POST
def code_confirm(request: HttpRequest, token: str) -> HttpResponse:
    party = _party(token)
    translation.activate(party.envelope.language)
    code = request.POST.get("code", "")
    try:
        services.otp_confirm(
            party=party, code=code, ip=client_ip(request), user_agent=user_agent(request)
        )
    except services.SigningError as exc:
        messages.error(request, exc.message)
    else:
        confirmed = set(request.session.get(SESSION_KEY, []))
        confirmed.add(party.pk)
        request.session[SESSION_KEY] = sorted(confirmed)
    return _back(token)


def _signature_value(
    request: HttpRequest, prefix: str, *, keep_colour: bool
) -> services.SubmittedValue | None:
    method = request.POST.get(f"{prefix}-method", "")
    if method == "typed":
        return services.SubmittedValue(
            text="",
            image=images.typed_signature(request.POST.get(f"{prefix}-typed", "")),
            method=FieldValue.Method.TYPED,
        )
    if method == "drawn":
        return services.SubmittedValue(
            image=images.drawn_signature(request.POST.get(f"{prefix}-drawn", "")),
            method=FieldValue.Method.DRAWN,
        )
    if method == "uploaded":
        upload = request.FILES.get(f"{prefix}-file")
        if upload is None:
            return None  # nothing chosen: a required field is reported by party_sign
        if upload.size and upload.size > images.MAX_UPLOAD_BYTES:
            raise images.ImageError(_("The image is too large (10 MB at most)."))
        return services.SubmittedValue(
            image=images.uploaded_image(upload.read(), keep_colour=keep_colour),
            method=FieldValue.Method.UPLOADED,
        )
    if method == "default":
        return None
    return None


@require_POST
def sign_submit(request: HttpRequest, token: str) -> HttpResponse:
    party = _party(token)
    envelope = party.envelope
    translation.activate(envelope.language)
    if not _confirmed(request, party):
        # Before any image is decoded: without the code, an upload costs us nothing.
        messages.error(request, _("Confirm the code we sent you before signing."))
        return _back(token)
    fields = list(Field.objects.filter(document=envelope.document, role=party.role))
    values: dict[int, services.SubmittedValue] = {}
    try:
        signature = _signature_value(request, "signature", keep_colour=False)
        stamp = _signature_value(request, "stamp", keep_colour=True)
        if (
            stamp is None
            and request.POST.get("stamp-method") == "default"
            and party.role == Party.Role.COMPANY
            and envelope.company
            and envelope.company.default_stamp
        ):
            with envelope.company.default_stamp.open("rb") as fh:
                stamp = services.SubmittedValue(
                    image=images.uploaded_image(fh.read(), keep_colour=True),
                    method=FieldValue.Method.UPLOADED,
                )
    except images.ImageError as exc:
        messages.error(request, exc.message)
        return _back(token)
    for field in fields:
        if field.kind in {Field.Kind.SIGNATURE, Field.Kind.INITIALS} and signature is not None:
            values[field.pk] = signature
        elif field.kind == Field.Kind.STAMP and stamp is not None:
            values[field.pk] = stamp
        elif not field.is_image and field.kind != Field.Kind.DATE:
            # One-line inputs: bidi overrides and zero-width characters never reach the PDF.
            text = clean_text(request.POST.get(f"field-{field.pk}", ""))
            values[field.pk] = services.SubmittedValue(text=text, method=FieldValue.Method.TYPED)
    try:
        services.party_sign(
            party=party,
            values=values,
            consent=request.POST.get("consent") == "1",
            code_confirmed_in_session=_confirmed(request, party),
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
    except services.SigningError as exc:
        messages.error(request, exc.message)
        return _back(token)
    messages.success(request, _("Thank you, your signature is recorded."))
    return _back(token)


@require_POST
def decline(request: HttpRequest, token: str) -> HttpResponse:
    party = _party(token)
    translation.activate(party.envelope.language)
    try:
        services.party_decline(
            party=party,
            reason=request.POST.get("reason", ""),
            code_confirmed_in_session=_confirmed(request, party),
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
    except services.SigningError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, _("You declined to sign. The sender has been told."))
    return _back(token)


def page_image(request: HttpRequest, token: str, page: int) -> HttpResponse:
    party = _party(token)
    from documents.previews import page_image as render_page

    if services.link_problem(party) in DEAD_LINK_PROBLEMS:
        raise Http404
    document = party.envelope.document
    if page < 1 or page > document.page_count:
        raise Http404
    size = "thumb" if request.GET.get("size") == "thumb" else "page"
    try:
        data = render_page(document=document, page=page, size=size)
    except pdfguard.PdfGuardError as exc:  # a page too heavy to render within the limits
        return HttpResponse(exc.message, content_type="text/plain; charset=utf-8", status=422)
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@never_cache
def download(request: HttpRequest, token: str) -> HttpResponse:
    party = _party(token)
    envelope = party.envelope
    translation.activate(envelope.language)
    if (
        party.status != Party.Status.SIGNED
        or not services.download_available(envelope)
        or envelope.sealed is None
    ):
        return render(
            request,
            "signing/sign.html",
            {
                "party": party,
                "envelope": envelope,
                "token": token,
                "problem": "gone",
                "problem_message": _(
                    "The signed file is no longer available here. "
                    "You can still check a copy on the verification page."
                ),
                "pages": [],
            },
            status=410,
        )
    with envelope.sealed.file.open("rb") as fh:
        data = fh.read()
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{envelope.public_id}.pdf"'
    return response


def default_stamp(request: HttpRequest, token: str) -> HttpResponse:
    """The own company's default stamp, shown to its signer only (MEDIA_ROOT is not public)."""
    party = _party(token)
    envelope = party.envelope
    company = envelope.company
    if (
        services.link_problem(party) is not None
        or party.role != Party.Role.COMPANY
        or company is None
        or not company.default_stamp
    ):
        raise Http404
    with company.default_stamp.open("rb") as fh:
        data = fh.read()
    content_type = mimetypes.guess_type(company.default_stamp.name or "")[0] or "image/png"
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
