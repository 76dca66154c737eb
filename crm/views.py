"""CRM pages. Thin: access from crm.access, reads from crm.selectors, writes in crm.services."""

import datetime
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm import access, selectors, services
from crm.forms import (
    BaseInvoiceLineFormSet,
    ContactForm,
    CounterpartyForm,
    DealForm,
    DealStageFormSet,
    InvoiceForm,
    InvoiceLineFormSet,
    NoteForm,
    OwnCompanyForm,
    model_form_data,
)
from crm.models import Contact, Counterparty, Deal, DealStage, Invoice, OwnCompany
from signflow.errors import SignFlowError

PER_PAGE = 20


def _page(request: HttpRequest, qs: QuerySet[Any]) -> Page:
    return Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))


def _filters(request: HttpRequest, *names: str) -> dict[str, str]:
    """The list's search (`q`) and filters as the query string gives them."""
    return {name: request.GET.get(name, "") for name in ("q", *names)}


def _list(
    request: HttpRequest,
    template: str,
    rows: QuerySet[Any],
    filters: dict[str, str],
    **context: Any,
) -> HttpResponse:
    """The whole page, or only the results table when htmx asks (search, filters, pages):
    a page of `rows`, the filters as given, and the query string the pager links keep."""
    query = request.GET.copy()
    query.pop("page", None)
    context.update(filters, page=_page(request, rows), query_string=query.urlencode())
    if getattr(request, "htmx", False):
        template = f"{template}#results"
    return render(request, template, context)


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _visible_deal(request: HttpRequest, deal_id: int) -> Deal:
    deal = get_object_or_404(selectors.deal_queryset(), pk=deal_id)
    if not access.can_view_deal(request.user, deal):
        # Not found rather than forbidden: an outsider learns nothing about other deals.
        raise Http404
    return deal


def _visible_invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    invoice = get_object_or_404(selectors.invoice_queryset(), pk=invoice_id)
    if not access.can_view_invoice(request.user, invoice):
        raise Http404
    return invoice


def _apply_error(form: Any, exc: SignFlowError) -> None:
    """A service refused: its messages next to the fields it names, else at the top."""
    placed = False
    for name, errors in exc.fields.items():
        if name in form.fields:
            form.add_error(name, [ValidationError(m, code=exc.code) for m in errors])
            placed = True
    if not placed:
        form.add_error(None, ValidationError(exc.message, code=exc.code))


# --- Deals ------------------------------------------------------------------------------------


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request, "stage", "responsible")
    deals = selectors.deal_search(
        deals=access.deals_visible_to(request.user),
        text=filters["q"],
        stage_code=filters["stage"],
        responsible_id=filters["responsible"],
    )
    return _list(
        request,
        "crm/deal_list.html",
        deals,
        filters,
        stages=DealStage.objects.all(),
        responsibles=selectors.employees_with_deals() if access.is_manager(request.user) else [],
        can_create=access.can_use_crm(request.user),
    )


@login_required
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _visible_deal(request, deal_id)
    return render(
        request,
        "crm/deal_detail.html",
        {
            "deal": deal,
            "invoices": selectors.invoices_of_deal(deal=deal),
            "timeline": deal.timeline.select_related("actor"),
            "note_form": NoteForm(),
            "can_edit": access.can_edit_deal(request.user, deal),
        },
    )


@login_required
def deal_create(request: HttpRequest) -> HttpResponse:
    _require(access.can_use_crm(request.user))
    can_reassign = access.can_reassign_deal(request.user)
    initial: dict[str, Any] = {"company": services.own_company_default()}
    if request.GET.get("counterparty"):
        initial["counterparty"] = request.GET["counterparty"]
    form = DealForm(request.POST or None, initial=initial, can_reassign=can_reassign)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deal = services.deal_create(
                title=data["title"],
                company=data["company"],
                counterparty=data["counterparty"],
                contact=data["contact"],
                responsible=data.get("responsible") or request.user,
                amount=data["amount"],
                currency=data["currency"],
                stage=data["stage"],
                actor=request.user,
            )
        except SignFlowError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Deal created."))
            return redirect("crm:deal_detail", deal_id=deal.pk)
    return render(request, "crm/deal_form.html", {"form": form, "deal": None})


@login_required
def deal_edit(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _visible_deal(request, deal_id)
    _require(access.can_edit_deal(request.user, deal))
    can_reassign = access.can_reassign_deal(request.user)
    form = DealForm(request.POST or None, instance=deal, can_reassign=can_reassign)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.fields}
        # The form already applied the values to `deal`; reload it so the service sees the
        # stage it had before this request.
        fresh = Deal.objects.select_related("stage").get(pk=deal.pk)
        try:
            services.deal_update(deal=fresh, data=data, actor=request.user)
        except SignFlowError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Deal saved."))
            return redirect("crm:deal_detail", deal_id=deal.pk)
    return render(request, "crm/deal_form.html", {"form": form, "deal": deal})


@login_required
@require_POST
def deal_note(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _visible_deal(request, deal_id)
    _require(access.can_edit_deal(request.user, deal))
    form = NoteForm(request.POST)
    if form.is_valid():
        services.deal_timeline_add(
            deal=deal, kind=form.kind, text=form.cleaned_data["text"], actor=request.user
        )
    else:
        messages.error(request, _("A note cannot be empty."))
    return redirect("crm:deal_detail", deal_id=deal.pk)


# --- Invoices ---------------------------------------------------------------------------------


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request, "status")
    invoices = selectors.invoice_search(
        invoices=access.invoices_visible_to(request.user),
        text=filters["q"],
        status=filters["status"],
    )
    return _list(
        request, "crm/invoice_list.html", invoices, filters, statuses=Invoice.Status.choices
    )


@login_required
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _visible_invoice(request, invoice_id)
    return render(
        request,
        "crm/invoice_detail.html",
        {
            "invoice": invoice,
            "can_edit": access.can_edit_invoice(request.user, invoice),
            "next_statuses": selectors.invoice_next_statuses(invoice=invoice),
        },
    )


@login_required
def invoice_print(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The invoice alone, as printed: the same template the PDF is made from."""
    invoice = _visible_invoice(request, invoice_id)
    return render(request, "crm/invoice_print.html", {"invoice": invoice})


def _invoice_initial(invoice: Invoice | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The invoice form's and its lines' starting values: the invoice's, or today + 30 days."""
    if invoice is None:
        today = timezone.localdate()
        return {"issue_date": today, "due_date": today + datetime.timedelta(days=30)}, []
    initial = {
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "notes": invoice.notes,
    }
    lines = [
        {
            "description": line.description,
            "quantity": line.quantity,
            "unit": line.unit,
            "unit_price": line.unit_price,
            "vat_rate": f"{line.vat_rate.normalize():f}",
        }
        for line in invoice.lines.all()
    ]
    return initial, lines


def _invoice_form_page(
    request: HttpRequest, *, deal: Deal, invoice: Invoice | None
) -> HttpResponse:
    initial, lines_initial = _invoice_initial(invoice)
    form = InvoiceForm(request.POST or None, initial=initial)
    formset = cast(
        BaseInvoiceLineFormSet,
        InvoiceLineFormSet(request.POST or None, initial=lines_initial, prefix="lines"),
    )
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            if invoice is None:
                invoice = services.invoice_create(
                    deal=deal,
                    lines=formset.lines(),
                    issue_date=data["issue_date"],
                    due_date=data["due_date"],
                    notes=data["notes"],
                    actor=request.user,
                )
                messages.success(
                    request, _("Invoice %(number)s created.") % {"number": invoice.number}
                )
            else:
                services.invoice_update(
                    invoice=invoice,
                    lines=formset.lines(),
                    issue_date=data["issue_date"],
                    due_date=data["due_date"],
                    notes=data["notes"],
                )
                messages.success(request, _("Invoice saved."))
        except SignFlowError as exc:
            _apply_error(form, exc)
        else:
            return redirect("crm:invoice_detail", invoice_id=invoice.pk)
    return render(
        request,
        "crm/invoice_form.html",
        {"form": form, "formset": formset, "deal": deal, "invoice": invoice},
    )


@login_required
def invoice_create(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _visible_deal(request, deal_id)
    _require(access.can_edit_deal(request.user, deal))
    return _invoice_form_page(request, deal=deal, invoice=None)


@login_required
def invoice_edit(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _visible_invoice(request, invoice_id)
    _require(access.can_edit_invoice(request.user, invoice))
    if invoice.status != Invoice.Status.DRAFT:
        messages.error(request, _("Only a draft invoice can be edited."))
        return redirect("crm:invoice_detail", invoice_id=invoice.pk)
    return _invoice_form_page(request, deal=invoice.deal, invoice=invoice)


@login_required
@require_POST
def invoice_status(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = _visible_invoice(request, invoice_id)
    _require(access.can_edit_invoice(request.user, invoice))
    try:
        services.invoice_set_status(
            invoice=invoice, status=request.POST.get("status", ""), actor=request.user
        )
    except SignFlowError as exc:
        messages.error(request, exc.message)
    return redirect("crm:invoice_detail", invoice_id=invoice.pk)


# --- Counterparties and contacts ----------------------------------------------------------------


@login_required
def counterparty_list(request: HttpRequest) -> HttpResponse:
    filters = _filters(request, "kind")
    counterparties = (
        selectors.counterparty_search(text=filters["q"], kind=filters["kind"])
        if access.can_use_crm(request.user)
        else Counterparty.objects.none()
    )
    return _list(
        request,
        "crm/counterparty_list.html",
        counterparties,
        filters,
        kinds=Counterparty.Kind.choices,
        can_create=access.can_use_crm(request.user),
    )


@login_required
def counterparty_detail(request: HttpRequest, counterparty_id: int) -> HttpResponse:
    _require(access.can_use_crm(request.user))
    counterparty = get_object_or_404(Counterparty, pk=counterparty_id)
    return render(
        request,
        "crm/counterparty_detail.html",
        {
            "counterparty": counterparty,
            "contacts": counterparty.contacts.all(),
            "deals": access.deals_visible_to(request.user)
            .filter(counterparty=counterparty)
            .select_related("stage"),
        },
    )


@login_required
def counterparty_edit(request: HttpRequest, counterparty_id: int | None = None) -> HttpResponse:
    _require(access.can_use_crm(request.user))
    counterparty = get_object_or_404(Counterparty, pk=counterparty_id) if counterparty_id else None
    form = CounterpartyForm(request.POST or None, instance=counterparty)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.counterparty_save(
                counterparty=counterparty, data=model_form_data(form), actor=request.user
            )
        except SignFlowError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Counterparty saved."))
            return redirect("crm:counterparty_detail", counterparty_id=saved.pk)
    return render(
        request, "crm/counterparty_form.html", {"form": form, "counterparty": counterparty}
    )


@login_required
def contact_edit(
    request: HttpRequest, counterparty_id: int | None = None, contact_id: int | None = None
) -> HttpResponse:
    _require(access.can_use_crm(request.user))
    if contact_id:
        contact: Contact | None = get_object_or_404(Contact, pk=contact_id)
        counterparty = contact.counterparty  # type: ignore[union-attr]
    else:
        contact = None
        counterparty = get_object_or_404(Counterparty, pk=counterparty_id)
    form = ContactForm(request.POST or None, instance=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_save(
                contact=contact,
                counterparty=counterparty,
                data=model_form_data(form),
                actor=request.user,
            )
        except SignFlowError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Contact saved."))
            return redirect("crm:counterparty_detail", counterparty_id=counterparty.pk)
    return render(
        request,
        "crm/contact_form.html",
        {"form": form, "contact": contact, "counterparty": counterparty},
    )


# --- Own companies and the pipeline (managers) ---------------------------------------------------


@login_required
def company_list(request: HttpRequest) -> HttpResponse:
    _require(access.can_manage_companies(request.user))
    return render(request, "crm/company_list.html", {"companies": OwnCompany.objects.all()})


@login_required
def company_edit(request: HttpRequest, company_id: int | None = None) -> HttpResponse:
    _require(access.can_manage_companies(request.user))
    company = get_object_or_404(OwnCompany, pk=company_id) if company_id else None
    form = OwnCompanyForm(request.POST or None, request.FILES or None, instance=company)
    if request.method == "POST" and form.is_valid():
        try:
            services.own_company_save(
                company=company, data=model_form_data(form), actor=request.user
            )
        except SignFlowError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Company saved."))
            return redirect("crm:company_list")
    return render(request, "crm/company_form.html", {"form": form, "company": company})


@login_required
@require_POST
def company_make_default(request: HttpRequest, company_id: int) -> HttpResponse:
    _require(access.can_manage_companies(request.user))
    services.own_company_make_default(company=get_object_or_404(OwnCompany, pk=company_id))
    return redirect("crm:company_list")


@login_required
def stage_list(request: HttpRequest) -> HttpResponse:
    _require(access.can_manage_stages(request.user))
    stages = DealStage.objects.all()
    if request.method != "POST":
        # No stage at all (a flushed database: the migrations create the default pipeline):
        # the default stages are offered, and written only when the manager saves them.
        defaults = [] if stages.exists() else services.default_stages()
        formset = DealStageFormSet(queryset=stages, initial=defaults)
        formset.extra = len(defaults) + 1
        return render(request, "crm/stage_list.html", {"formset": formset})
    formset = DealStageFormSet(request.POST, queryset=stages)
    if formset.is_valid():
        rows = [
            (form.instance.pk, model_form_data(form))
            for form in formset.forms
            if form.has_changed()
        ]
        try:
            services.pipeline_save(rows=rows, actor=request.user)
        except SignFlowError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Pipeline saved."))
            return redirect("crm:stage_list")
    return render(request, "crm/stage_list.html", {"formset": formset})
