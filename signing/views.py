"""The sender's pages: board, envelope page, send screen, sender actions, dev outbox."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from crm import access as crm_access
from crm.models import Deal, Invoice
from documents.contexts import client_stamp_asked
from documents.models import Document, Field
from documents.selectors import template_notice
from signflow.flash import flash_outcome
from signing import access, audit, services
from signing.correct_views import correction_context
from signing.downloads import sealed_download
from signing.forms import PartyForm, ReasonForm, ReissueForm, SendOptionsForm
from signing.models import Envelope, Message, Party


def _user(request: HttpRequest) -> User:
    """The logged-in user (every caller is behind @login_required)."""
    user = request.user
    assert isinstance(user, User)
    return user


def _envelope_for(request: HttpRequest, envelope_id: int) -> Envelope:
    envelope = get_object_or_404(
        Envelope.objects.select_related(
            "document", "responsible", "company", "counterparty", "sealed"
        ),
        pk=envelope_id,
    )
    if not access.can_view_envelope(_user(request), envelope):
        raise Http404
    return envelope


@login_required
def envelope_detail(request: HttpRequest, envelope_id: int) -> HttpResponse:
    envelope = _envelope_for(request, envelope_id)
    chain = audit.chain_check(envelope=envelope)
    return render(
        request,
        "signing/envelope_detail.html",
        {
            "envelope": envelope,
            "parties": envelope.parties.order_by("order"),
            "messages_out": envelope.messages.select_related("party").order_by("-id"),
            "events": envelope.events.select_related("party", "actor").order_by("id"),
            "chain": chain,
            # Nobody signed yet: the sender may correct it (signing.services.correcting).
            "correction": correction_context(envelope),
            "sealing_problem": services.sealing_problem(envelope),
            "reason_form": ReasonForm(),
            "download_available": envelope.status == Envelope.Status.COMPLETED
            and envelope.sealed_id,
        },
    )


@never_cache
@login_required
def envelope_download(request: HttpRequest, envelope_id: int) -> HttpResponseBase:
    envelope = _envelope_for(request, envelope_id)
    if envelope.sealed is None:
        raise Http404
    return sealed_download(envelope)


@require_POST
@login_required
def send_invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """From a deal or an invoice: the invoice's envelope, reopened if it has one (draft, in
    progress or signed), else a new draft with the invoice rendered; then the send screen."""
    invoice = get_object_or_404(Invoice.objects.select_related("deal"), pk=invoice_id)
    if not crm_access.can_edit_invoice(_user(request), invoice):
        raise Http404
    # The document's language: chosen on the button's form, else the employee's own; the
    # send screen can still change it (the document is then rendered again).
    language = request.POST.get("language") or (get_language() or "fr")[:2]
    if language not in dict(Envelope.Language.choices):
        language = "fr"
    from documents.services import DocumentError

    try:
        envelope = services.envelope_open_for_invoice(
            invoice=invoice, actor=_user(request), language=language
        )
    except DocumentError as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
        return redirect("crm:deal_detail", deal_id=invoice.deal_id)
    return _to_envelope(envelope)


def _to_envelope(envelope: Envelope) -> HttpResponse:
    """A draft opens on the send screen; a sent or signed one on its own page."""
    if envelope.status == Envelope.Status.DRAFT:
        return redirect("signing:send", document_id=envelope.document_id)
    return redirect("signing:envelope_detail", envelope_id=envelope.pk)


@require_POST
@login_required
def send_deal(request: HttpRequest, deal_id: int) -> HttpResponse:
    """From a deal: a document rendered from a chosen template, then the send screen."""
    from documents.access import can_view_template
    from documents.models import DocumentTemplate
    from documents.services import DocumentError

    deal = get_object_or_404(Deal, pk=deal_id)
    user = _user(request)
    if not crm_access.can_edit_deal(user, deal):
        raise Http404
    template = DocumentTemplate.objects.filter(pk=request.POST.get("template") or 0).first()
    # Someone else's private template looks like a missing one.
    if template is None or not can_view_template(user, template):
        messages.error(request, _("Choose a template."))
        return redirect("crm:deal_detail", deal_id=deal.pk)
    try:
        # One document per deal and template, as for invoices.
        envelope = services.envelope_open_for_template(deal=deal, template=template, actor=user)
    except DocumentError as exc:
        messages.error(request, exc.message)
        return redirect("crm:deal_detail", deal_id=deal.pk)
    return _to_envelope(envelope)


def _prefill(envelope: Envelope) -> dict[str, dict[str, Any]]:
    company: dict[str, Any] = {"channel": Party.Channel.EMAIL}
    client: dict[str, Any] = {"channel": Party.Channel.EMAIL}
    if envelope.company:
        company.update(
            name=envelope.company.director_name,
            email=envelope.company.director_email,
            phone=envelope.company.director_phone,
            channel=Party.Channel.EMAIL if envelope.company.director_email else Party.Channel.SMS,
        )
    deal = envelope.deal
    if deal is not None:
        contact = deal.contact
        if contact is not None:
            client.update(name=contact.name, email=contact.email, phone=contact.phone)
        else:
            client.update(
                name=deal.counterparty.legal_name,
                email=deal.counterparty.email,
                phone=deal.counterparty.phone,
            )
        client["channel"] = Party.Channel.EMAIL if client.get("email") else Party.Channel.SMS
    return {"company": company, "client": client}


def _unsaved_envelope(document: Document, user: User) -> Envelope:
    """What the send screen shows for an uploaded document before its envelope exists: a GET
    writes nothing, the envelope is created by the POST that sends it."""
    employee = getattr(user, "employee", None)
    deal = document.deal
    return Envelope(
        document=document,
        title=document.title,
        language=document.language,
        responsible=user,
        company=deal.company if deal else (employee.company if employee else None),
        counterparty=deal.counterparty if deal else None,
        deal=deal,
    )


def _send_envelope(request: HttpRequest, document: Document) -> Envelope:
    """The envelope the send screen is for: the document's, or on a GET an unsaved one (a GET
    writes nothing; the POST that sends creates it). Http404 for who may not send it."""
    envelope = Envelope.objects.filter(document=document).first()
    if envelope is None:
        if not access.can_start_envelope(_user(request), document):
            raise Http404
        if request.method != "POST":
            return _unsaved_envelope(document, _user(request))
        envelope = services.envelope_for_document(document=document, actor=_user(request))
    if not access.can_act_on_envelope(_user(request), envelope):
        raise Http404
    return envelope


def _send_fields(document: Document, envelope: Envelope) -> list[Field]:
    """The document's fields the send screen lists."""
    fields = list(Field.objects.filter(document=document))
    if client_stamp_asked(envelope.company, envelope.counterparty):
        return fields
    # Not asked for: it goes away when sending (envelope_send), so it is not listed.
    return [f for f in fields if not (f.role == "client" and f.kind == Field.Kind.STAMP)]


def _send_roles(fields: list[Field]) -> list[str]:
    """The parties to name, company first: those with a field to fill."""
    return [
        role
        for role in (Party.Role.COMPANY, Party.Role.CLIENT)
        if any(f.role == role for f in fields)
    ]


def _send_submit(
    request: HttpRequest,
    envelope: Envelope,
    options: SendOptionsForm,
    party_forms: dict[str, PartyForm],
    client_is_company: bool,
) -> None:
    """Send the envelope with the screen's valid forms (raises what envelope_send raises)."""
    inputs = [
        services.PartyInput(
            role=role,
            name=form.cleaned_data["name"],
            email=form.cleaned_data["email"],
            phone=form.cleaned_data["phone"],
            channel=form.cleaned_data["channel"],
            is_company=role == Party.Role.COMPANY or client_is_company,
        )
        for role, form in party_forms.items()
    ]
    services.envelope_send(
        envelope=envelope,
        actor=_user(request),
        parties=inputs,
        language=options.cleaned_data["language"],
        deadline=options.deadline(),
        reminder_every_days=options.cleaned_data["reminder_every_days"],
        reminder_max=options.cleaned_data["reminder_max"],
        note=options.cleaned_data["note"],
    )


def _send_errors_shown(
    errors: dict[str, Any], options: SendOptionsForm, party_forms: dict[str, PartyForm]
) -> None:
    """Put envelope_send's validation errors on the forms' fields (party-<i> is the i-th role)."""
    for index, form in enumerate(party_forms.values()):
        for name, message in errors.get(f"party-{index}", {}).items():
            form.add_error(name, message)
    for key in ("deadline", "language"):
        if key in errors:
            options.add_error("deadline_days" if key == "deadline" else key, errors[key])


@login_required
def send(request: HttpRequest, document_id: int) -> HttpResponse:
    document = get_object_or_404(Document, pk=document_id)
    envelope = _send_envelope(request, document)
    if envelope.status != Envelope.Status.DRAFT:
        messages.info(request, _("This document has already been sent."))
        return redirect("signing:envelope_detail", envelope_id=envelope.pk)
    fields = _send_fields(document, envelope)
    roles = _send_roles(fields)
    client_is_company = envelope.counterparty is None or envelope.counterparty.kind == "company"
    errors: dict[str, Any] = {}
    if request.method == "POST":
        options = SendOptionsForm(request.POST)
        party_forms = {role: PartyForm(request.POST, prefix=role) for role in roles}
        if options.is_valid() and all(f.is_valid() for f in party_forms.values()):
            try:
                _send_submit(request, envelope, options, party_forms, client_is_company)
            except services.SendValidationError as exc:
                errors = exc.errors
                _send_errors_shown(exc.errors, options, party_forms)
            except services.SigningError as exc:
                messages.error(request, exc.message)
                return redirect("signing:envelope_detail", envelope_id=envelope.pk)
            else:
                messages.success(request, _("Sent. The first signer has been invited."))
                return redirect("signing:envelope_detail", envelope_id=envelope.pk)
    else:
        initial = _prefill(envelope)
        options = SendOptionsForm(initial={"language": envelope.language})
        party_forms = {role: PartyForm(prefix=role, initial=initial[role]) for role in roles}
    return render(
        request,
        "signing/send.html",
        {
            "envelope": envelope,
            "document": document,
            "fields": fields,
            "party_forms": [(Party.Role(role).label, form) for role, form in party_forms.items()],
            "options": options,
            "errors": errors,
            "client_is_company": client_is_company,
            "pages": range(1, document.page_count + 1),
            # Built from a template that is not the company's default: the sender is warned.
            "template_notice": template_notice(document),
        },
        status=400 if request.method == "POST" else 200,
    )


def _act(request: HttpRequest, envelope_id: int) -> Envelope:
    envelope = _envelope_for(request, envelope_id)
    if not access.can_act_on_envelope(_user(request), envelope):
        raise PermissionDenied
    return envelope


@require_POST
@login_required
def envelope_remind(request: HttpRequest, envelope_id: int) -> HttpResponse:
    envelope = _act(request, envelope_id)
    flash_outcome(
        request,
        lambda: services.envelope_remind(envelope=envelope, actor=_user(request)),
        _("Reminder queued."),
    )
    target = request.POST.get("next", "")
    # Only a page of this site: an absolute URL here would make SignFlow an open redirect.
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("signing:envelope_detail", args=[envelope.pk])
    return redirect(target)


@require_POST
@login_required
def envelope_cancel(request: HttpRequest, envelope_id: int) -> HttpResponse:
    envelope = _act(request, envelope_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason for cancelling."))
    else:
        reason = form.cleaned_data["reason"]
        flash_outcome(
            request,
            lambda: services.envelope_cancel(
                envelope=envelope, actor=_user(request), reason=reason
            ),
            _("The signature request was cancelled."),
        )
    return redirect("signing:envelope_detail", envelope_id=envelope.pk)


@require_POST
@login_required
def send_language(request: HttpRequest, document_id: int) -> HttpResponse:
    """The send screen's "Show in this language": the draft's document is rendered again in the
    chosen language, and the send screen opens on it."""
    envelope = _send_envelope(request, get_object_or_404(Document, pk=document_id))
    from documents.errors import DocumentError

    try:
        envelope = services.envelope_set_language(
            envelope=envelope, actor=_user(request), language=request.POST.get("language", "")
        )
    except (services.SigningError, DocumentError) as exc:
        messages.error(request, exc.message)
    return _to_envelope(envelope)


@require_POST
@login_required
def envelope_discard(request: HttpRequest, envelope_id: int) -> HttpResponse:
    """Throw a draft away (the explicit way to start over before sending)."""
    envelope = _act(request, envelope_id)
    deal_id = envelope.deal_id
    try:
        services.envelope_discard_draft(envelope=envelope, actor=_user(request))
    except services.SigningError as exc:
        messages.error(request, exc.message)
        return redirect("signing:envelope_detail", envelope_id=envelope.pk)
    messages.success(request, _("The draft was discarded."))
    if deal_id:
        return redirect("crm:deal_detail", deal_id=deal_id)
    return redirect("signing:board")


@require_POST
@login_required
def envelope_replace(request: HttpRequest, envelope_id: int) -> HttpResponse:
    """Cancel a document in progress, with a reason, and prepare a new version to send."""
    envelope = _act(request, envelope_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason for cancelling."))
        return redirect("signing:envelope_detail", envelope_id=envelope.pk)
    from documents.errors import DocumentError

    try:
        new = services.envelope_replace(
            envelope=envelope, actor=_user(request), reason=form.cleaned_data["reason"]
        )
    except (services.SigningError, DocumentError) as exc:
        messages.error(request, exc.message)
        return redirect("signing:envelope_detail", envelope_id=envelope.pk)
    messages.success(
        request, _("The previous version was cancelled. Check the new one and send it.")
    )
    return _to_envelope(new)


@require_POST
@login_required
def envelope_retry_sealing(request: HttpRequest, envelope_id: int) -> HttpResponse:
    envelope = _act(request, envelope_id)
    flash_outcome(
        request,
        lambda: services.envelope_retry_sealing(envelope=envelope, actor=_user(request)),
        _("Sealing will be attempted again in a moment."),
    )
    return redirect("signing:envelope_detail", envelope_id=envelope.pk)


@require_POST
@login_required
def party_reissue(request: HttpRequest, envelope_id: int, party_id: int) -> HttpResponse:
    envelope = _act(request, envelope_id)
    party = get_object_or_404(Party, pk=party_id, envelope=envelope)
    form = ReissueForm(request.POST)
    if form.is_valid():
        flash_outcome(
            request,
            lambda: services.party_reissue(party=party, actor=_user(request), **form.cleaned_data),
            _("A new link was sent. The previous link no longer works."),
        )
    else:
        messages.error(request, _("Check the email, phone and channel."))
    return redirect("signing:envelope_detail", envelope_id=envelope.pk)


@require_POST
@login_required
def message_retry(request: HttpRequest, envelope_id: int, message_id: int) -> HttpResponse:
    envelope = _act(request, envelope_id)
    try:
        services.message_retry(envelope=envelope, message_id=message_id, actor=_user(request))
    except services.SigningError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The message was queued again."))
    return redirect("signing:envelope_detail", envelope_id=envelope.pk)


def dev_outbox(request: HttpRequest) -> HttpResponse:
    """Every message with its links, so the whole flow can be clicked locally (DEBUG only)."""
    if not settings.SIGNFLOW_DEV_OUTBOX:
        raise Http404
    outbox = Message.objects.select_related("envelope").order_by("-id")[:100]
    stats = Message.objects.values("status").annotate(n=Count("id"))
    return render(request, "signing/dev_outbox.html", {"outbox": outbox, "stats": stats})
