"""The signer's pages: opened from a link, no account. Mobile first."""

import base64
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from documents.models import Field
from documents.selectors import page_sizes
from signflow import net, pdfguard
from signflow.text import clean_text
from signing import images, services, stamps
from signing.downloads import pdf_attachment, sealed_download, unsigned_filename
from signing.models import Envelope, FieldValue, Party

SESSION_KEY = "signflow-otp-confirmed"
# A link of a cancelled, declined or expired envelope is dead: it says why, and shows nothing
# of the document any more.
DEAD_LINK_PROBLEMS = {"cancelled", "declined", "expired"}
PAGE_IMAGE_SIZES = {"thumb", "page", "large"}


def client_ip(request: HttpRequest) -> str | None:
    return net.client_ip(request)


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:400]


def _party(token: str, *, page: bool = False) -> Party:
    party = services.party_for_token(token, page=page)
    if party is None:
        raise Http404(_("This link is not valid. Check that you opened the whole link."))
    return party


def _party_in_language(request: HttpRequest, token: str, *, page: bool = False) -> Party:
    """The link's party, with the page in the envelope's language."""
    party = _party(token, page=page)
    translation.activate(party.envelope.language)
    request.LANGUAGE_CODE = party.envelope.language
    return party


def _confirmed(request: HttpRequest, party: Party) -> bool:
    return party.otp_confirmed_at is not None and party.pk in request.session.get(SESSION_KEY, [])


# Every field of a document in reading order, each with `is_filled`. Raw SQL: the same query
# through the ORM (an Exists annotation) costs 0.6 ms of CPU to build, this one 0.15 ms, on a
# page every signer request renders (bench/README.md, "Signer page").
_FIELDS_SQL = (
    "SELECT f.*, EXISTS (SELECT 1 FROM signing_fieldvalue v WHERE v.field_id = f.id)"
    " AS is_filled FROM documents_field f WHERE f.document_id = %s"
    " ORDER BY f.page, f.y DESC, f.x"
)


def _document_fields(envelope: Envelope) -> list[Field]:
    """Every field of the document in reading order, each with `is_filled`: one query serves
    both the page boxes and the party's own form."""
    fields = list(Field.objects.raw(_FIELDS_SQL, [envelope.document_id]))
    for field in fields:
        field.is_filled = bool(field.is_filled)  # type: ignore[attr-defined]  # SQLite: 0/1
    return fields


def _value_overlays(envelope: Envelope) -> dict[int, dict[str, str]]:
    """What the parties filled so far, to show in place: text, or the stored image inline
    (a data: URI, which the policy allows for images; no extra route to guard)."""
    overlays: dict[int, dict[str, str]] = {}
    for value in FieldValue.objects.filter(party__envelope_id=envelope.pk):
        if value.image:
            with value.image.open("rb") as fh:
                data = base64.b64encode(fh.read()).decode("ascii")
            overlays[value.field_id] = {"image": f"data:image/png;base64,{data}"}
        else:
            overlays[value.field_id] = {"text": value.text}
    return overlays


def _pages(envelope: Envelope, party: Party, fields: list[Field]) -> list[dict[str, Any]]:
    document = envelope.document
    # As displayed (after /Rotate, visible box): the space of the Field rectangles.
    sizes = page_sizes(document)
    # One more query, only once somebody has filled something: the later views of a page
    # nobody signed yet stay at their budget (tests/signing/test_query_counts.py).
    overlays = _value_overlays(envelope) if any(f.is_filled for f in fields) else {}  # type: ignore[attr-defined]
    pages: list[dict[str, Any]] = [
        {
            "number": n + 1,
            "boxes": [],
            # The image's intrinsic size, so a lazy page keeps its place (and its boxes) before
            # it loads: the "page" preview is 1000 px wide (documents.previews.SIZES).
            "height_px": round(1000 * height / width) if width else 1414,
        }
        for n, (width, height) in enumerate(sizes)
    ]
    for field in fields:
        if field.page > len(sizes):
            continue
        width, height = sizes[field.page - 1]
        box = {
            "field": field,
            "label": _label(field),
            "target": _box_target(field),
            "mine": field.role == party.role,
            "filled": field.is_filled,  # type: ignore[attr-defined]
            "value": overlays.get(field.pk),
            "aspect": f"{field.width:.2f} / {field.height:.2f}",
        }
        # Position and size in % of the page, formatted here: the template only prints them.
        box["rect"] = " ".join(
            f"{value:.3f}"
            for value in (
                100 * field.x / width,
                100 * (height - field.y - field.height) / height,
                100 * field.width / width,
                100 * field.height / height,
            )
        )
        pages[field.page - 1]["boxes"].append(box)
    for page in pages:
        page["mine"] = any(box["mine"] for box in page["boxes"])
    return pages


def _label(field: Field) -> str:
    """What a box or an input is called (computed once here: get_kind_display in the template
    costs a walk over the choices for every box, filled or not)."""
    return field.label or str(field.get_kind_display())


def _box_target(field: Field) -> str:
    """The input a tap on the box leads to: the signature or stamp capture, or its own."""
    key = _error_key(field)
    return f"capture-{key}" if key in {"signature", "stamp"} else f"input-{field.pk}"


def _input_value(field: Field, posted: Any) -> str:
    """What an input shows: what the signer typed (after an error), else the prefilled value."""
    if posted is not None:
        return str(posted.get(f"field-{field.pk}", ""))
    return field.prefilled


def _prepare_inputs(input_fields: list[Field], posted: Any, errors: dict[str, str]) -> None:
    """What each input shows: its value, label and error (attributes the template reads)."""
    for field in input_fields:
        field.current = _input_value(field, posted)  # type: ignore[attr-defined]
        field.display_label = _label(field)  # type: ignore[attr-defined]
        field.error_key = f"field-{field.pk}"  # type: ignore[attr-defined]
        field.error = errors.get(field.error_key, "")  # type: ignore[attr-defined]


def _default_stamp(envelope: Envelope, party: Party) -> Any:
    """The company's stamp, offered to the company's signer only."""
    company = envelope.company
    if party.role == Party.Role.COMPANY and company and company.default_stamp:
        return company.default_stamp
    return None


def _first_error(input_fields: list[Field], errors: dict[str, str]) -> str:
    """The first input that needs attention gets `autofocus`: the browser scrolls to it even
    without JavaScript (the answer to a POST cannot carry a #fragment)."""
    keys = [*(f"field-{f.pk}" for f in input_fields), "signature", "stamp", "consent"]
    return next((key for key in keys if key in errors), "")


def _posted_choices(party: Party, posted: Any, default_stamp: Any) -> dict[str, Any]:
    """The signer's choices as posted (after an error), else their defaults."""

    def get(key: str, default: str = "") -> Any:
        return posted.get(key, default) if posted is not None else default

    return {
        "signature_method": get("signature-method", "typed"),
        "signature_typed": get("signature-typed", party.name),
        "signature_drawn": get("signature-drawn", ""),
        "stamp_method": get("stamp-method", "default" if default_stamp else "uploaded"),
        "consent_checked": get("consent", "") == "1",
    }


def _sign_context(
    request: HttpRequest,
    party: Party,
    token: str,
    *,
    errors: dict[str, str] | None = None,
    posted: Any = None,
) -> dict[str, Any]:
    envelope = party.envelope
    problem = services.link_problem(party)
    fields = _document_fields(envelope)
    my_fields = [f for f in fields if f.role == party.role]
    input_fields = [f for f in my_fields if not f.is_image and f.kind != Field.Kind.DATE]
    errors = errors or {}
    _prepare_inputs(input_fields, posted, errors)
    signature_fields = [
        f for f in my_fields if f.kind in {Field.Kind.SIGNATURE, Field.Kind.INITIALS}
    ]
    default_stamp = _default_stamp(envelope, party)
    return {
        "party": party,
        "envelope": envelope,
        "token": token,
        "problem": problem,
        "problem_message": services.LINK_MESSAGES.get(problem or "", ""),
        "confirmed": _confirmed(request, party),
        "pages": [] if problem in DEAD_LINK_PROBLEMS else _pages(envelope, party, fields),
        "has_signature": bool(signature_fields),
        # The pad takes the shape of the first signature box; the server fits the ink into
        # each box's own shape when it stores the image (images.fit_to_box).
        "signature_aspect": (
            f"{signature_fields[0].width:.2f} / {signature_fields[0].height:.2f}"
            if signature_fields
            else "3 / 1"
        ),
        "stamp_fields": [f for f in my_fields if f.kind == Field.Kind.STAMP],
        "input_fields": input_fields,
        "guided_count": sum(1 for f in my_fields if f.required and f.kind != Field.Kind.DATE),
        "default_stamp": default_stamp,
        "masked_recipient": services.mask_phone(party.phone)
        if party.channel == Party.Channel.SMS
        else services.mask_email(party.email),
        "download_available": services.download_available(envelope)
        and party.status == Party.Status.SIGNED,
        "retention_days": services.settings.SIGNFLOW_DOWNLOAD_RETENTION_DAYS,
        "errors": errors,
        "signature_error": errors.get("signature", ""),
        "stamp_error": errors.get("stamp", ""),
        "consent_error": errors.get("consent", ""),
        "form_error": errors.get("form", ""),
        "first_error": _first_error(input_fields, errors),
        **_posted_choices(party, posted, default_stamp),
    }


@never_cache
def sign_page(request: HttpRequest, token: str) -> HttpResponse:
    party = _party_in_language(request, token, page=True)
    problem = services.link_problem(party)
    if problem is None:
        services.party_open(party=party, ip=client_ip(request), user_agent=user_agent(request))
    status = 200 if problem in (None, "signed") else 410
    return render(request, "signing/sign.html", _sign_context(request, party, token), status=status)


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
        minutes = settings.SIGNFLOW_OTP_TTL_SECONDS // 60
        messages.success(
            request,
            ngettext(
                "We sent you a 6-digit code. It is valid for %(minutes)d minute.",
                "We sent you a 6-digit code. It is valid for %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes},
        )
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
        if upload.size and upload.size > images.max_bytes():
            raise images.too_large()
        return services.SubmittedValue(
            image=images.uploaded_image(upload.read(), keep_colour=keep_colour),
            method=FieldValue.Method.UPLOADED,
        )
    if method == "default":
        return None
    return None


def _missing(field: Field, value: services.SubmittedValue | None) -> str | None:
    """The message for a field left empty or unreadable, checked here so that it can be shown
    next to its input; party_sign checks the same rules again under the lock."""
    name = field.label or field.get_kind_display()
    empty = value is None or (not value.text.strip() and not value.image)
    if field.kind == Field.Kind.CHECKBOX:
        if field.required and (value is None or value.text not in {"1", "on", "true"}):
            return _("Tick “%s” before signing.") % name
        return None
    if empty:
        return _("Fill in “%s” before signing.") % name if field.required else None
    assert value is not None
    if field.kind == Field.Kind.NUMBER:
        try:
            Decimal(value.text.replace(",", ".").replace(" ", ""))
        except (InvalidOperation, ValueError):
            return _("“%s” must be a number.") % name
    return None


def _error_key(field: Field) -> str:
    if field.kind in {Field.Kind.SIGNATURE, Field.Kind.INITIALS}:
        return "signature"
    if field.kind == Field.Kind.STAMP:
        return "stamp"
    return f"field-{field.pk}"


def _stamp_value(request: HttpRequest, party: Party) -> services.SubmittedValue | None:
    """The stamp posted, or the company's own stamp when its signer chose it."""
    stamp = _signature_value(request, "stamp", keep_colour=True)
    if stamp is not None or request.POST.get("stamp-method") != "default":
        return stamp
    company_stamp = _default_stamp(party.envelope, party)
    if company_stamp is None:
        return None
    with company_stamp.open("rb") as fh:
        return services.SubmittedValue(
            image=images.uploaded_image(fh.read(), keep_colour=True),
            method=FieldValue.Method.UPLOADED,
        )


def _captured(
    request: HttpRequest, party: Party, errors: dict[str, str]
) -> tuple[services.SubmittedValue | None, services.SubmittedValue | None]:
    """The signature and the stamp as posted (an unreadable image is an error of its input)."""
    signature = stamp = None
    try:
        signature = _signature_value(request, "signature", keep_colour=False)
    except images.ImageError as exc:
        errors["signature"] = exc.message
    try:
        stamp = _stamp_value(request, party)
    except images.ImageError as exc:
        errors["stamp"] = exc.message
    return signature, stamp


def _image_value(
    field: Field, captured: services.SubmittedValue | None
) -> services.SubmittedValue | None:
    """The captured image fitted into the field's own box (ImageError if it cannot be)."""
    if captured is None or not captured.image:
        return None
    image = images.fit_to_box(captured.image, width=field.width, height=field.height)
    return services.SubmittedValue(image=image, method=captured.method)


def _submitted(
    request: HttpRequest, party: Party, fields: list[Field]
) -> tuple[dict[int, services.SubmittedValue], dict[str, str]]:
    """The values of the form, each image fitted into its own box, and the errors per input."""
    errors: dict[str, str] = {}
    values: dict[int, services.SubmittedValue] = {}
    signature, stamp = _captured(request, party, errors)
    for field in fields:
        if field.kind == Field.Kind.DATE:
            continue
        value: services.SubmittedValue | None = None
        if field.is_image:
            try:
                value = _image_value(field, stamp if field.kind == Field.Kind.STAMP else signature)
            except images.ImageError as exc:
                errors.setdefault(_error_key(field), exc.message)
                continue
        else:
            # One-line inputs: bidi overrides and zero-width characters never reach the PDF.
            text = clean_text(request.POST.get(f"field-{field.pk}", ""))
            value = services.SubmittedValue(text=text, method=FieldValue.Method.TYPED)
        problem = _missing(field, value)
        if problem:
            errors.setdefault(_error_key(field), problem)
        elif value is not None:
            values[field.pk] = value
    if request.POST.get("consent") != "1":
        errors["consent"] = _("Accept the terms of electronic signature to sign.")
    return values, errors


@require_POST
def sign_submit(request: HttpRequest, token: str) -> HttpResponse:
    party = _party_in_language(request, token)
    envelope = party.envelope
    if not _confirmed(request, party):
        # Before any image is decoded: without the code, an upload costs us nothing.
        messages.error(request, _("Confirm the code we sent you before signing."))
        return _back(token)
    fields = list(Field.objects.filter(document=envelope.document, role=party.role))
    values, errors = _submitted(request, party, fields)
    if not errors:
        try:
            services.party_sign(
                party=party,
                values=values,
                consent=True,
                code_confirmed_in_session=_confirmed(request, party),
                ip=client_ip(request),
                user_agent=user_agent(request),
            )
        except services.SigningError as exc:
            if exc.code not in {"field_missing", "field_invalid", "consent_required"}:
                messages.error(request, exc.message)  # the link's state changed: say it on top
                return _back(token)
            errors["form"] = exc.message
            # A rule checked only under the lock (a mention typed wrong): next to its input too.
            for key, field_messages in exc.fields.items():
                errors.setdefault(key, field_messages[0])
    if errors:
        # The page again, with each message next to its input and every value kept (the
        # consent box stays ticked); 400 so that it is not mistaken for a success.
        context = _sign_context(request, party, token, errors=errors, posted=request.POST)
        return render(request, "signing/sign.html", context, status=400)
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
    # A few fixed widths (srcset picks one for the screen's pixel ratio; "large" also serves
    # the full-size view): anything else is the default, so the cache stays bounded.
    size = request.GET.get("size", "page")
    if size not in PAGE_IMAGE_SIZES:
        size = "page"
    try:
        data = render_page(document=document, page=page, size=size)
    except pdfguard.PdfGuardError as exc:  # a page too heavy to render within the limits
        return HttpResponse(exc.message, content_type="text/plain; charset=utf-8", status=422)
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_POST
def copy_download(request: HttpRequest, token: str) -> HttpResponse:
    """The document as it stands, before signing (a POST: handing it out writes an event)."""
    party = _party_in_language(request, token)
    envelope = party.envelope
    if not _confirmed(request, party):
        messages.error(request, _("Confirm the code we sent you to download the document."))
        return _back(token)
    try:
        data = services.copy_download(
            party=party, ip=client_ip(request), user_agent=user_agent(request)
        )
    except services.SigningError as exc:
        messages.error(request, exc.message)
        return _back(token)
    response = pdf_attachment(data, unsigned_filename(envelope))
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
def download(request: HttpRequest, token: str) -> HttpResponseBase:
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
    return sealed_download(envelope)


def default_stamp(_request: HttpRequest, token: str) -> HttpResponse:
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
    return stamps.stamp_image_response(company.default_stamp)
