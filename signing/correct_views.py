"""The sender corrects an envelope nobody has signed yet, from the envelope page (POST only).

The rules and the lock live in signing.services.correcting; here the form is read and the
envelope page gets what it shows (correction_context).
"""

import math
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from signflow.flash import flash_outcome
from signflow.http import AuthenticatedHttpRequest
from signflow.text import CleanTextMixin
from signing import services
from signing.forms import PartyForm, SendOptionsForm
from signing.models import Envelope, Party
from signing.services.correcting import correction_in_progress, correction_problem


class CorrectionForm(CleanTextMixin, forms.Form):
    # The same rules as on the send screen.
    deadline_days = SendOptionsForm.base_fields["deadline_days"]
    note = forms.CharField(
        label=gettext_lazy("Message to the signers"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _prefix(party: Party) -> str:
    return f"party-{party.order}"


def correction_context(envelope: Envelope) -> dict[str, Any] | None:
    """What the envelope page shows to correct it, or None when it cannot be corrected."""
    if correction_problem(envelope) is not None:
        return None
    parties = list(envelope.parties.order_by("order"))
    left = (envelope.deadline - timezone.now()).total_seconds() if envelope.deadline else 0
    days = min(365, max(1, math.ceil(left / 86400)))
    return {
        "in_progress": correction_in_progress(envelope),
        "party_forms": [
            (
                party,
                PartyForm(
                    prefix=_prefix(party),
                    initial={
                        "name": party.name,
                        "email": party.email,
                        "phone": party.phone,
                        "channel": party.channel,
                    },
                ),
            )
            for party in parties
        ],
        "form": CorrectionForm(initial={"deadline_days": days, "note": envelope.note}),
    }


def _errors_text(errors: dict[str, Any]) -> str:
    texts: list[str] = []
    for value in errors.values():
        if isinstance(value, dict):
            texts.extend(str(v) for v in value.values())
        else:
            texts.append(str(value))
    return " ".join(texts)


@require_POST
@login_required
def envelope_correct(request: AuthenticatedHttpRequest, envelope_id: int) -> HttpResponse:
    from signing.views import _act, _user  # signing.views imports correction_context from here

    envelope = _act(request, envelope_id)
    parties = list(envelope.parties.order_by("order"))
    party_forms = [PartyForm(request.POST, prefix=_prefix(party)) for party in parties]
    form = CorrectionForm(request.POST)
    back = redirect("signing:envelope_detail", envelope_id=envelope.pk)
    if not (form.is_valid() and all(f.is_valid() for f in party_forms)):
        problems = [e for f in (form, *party_forms) for errs in f.errors.values() for e in errs]
        messages.error(request, " ".join(str(p) for p in problems) or _("Check the form."))
        return back
    inputs = [
        services.PartyInput(
            role=party.role,
            name=f.cleaned_data["name"],
            email=f.cleaned_data["email"],
            phone=f.cleaned_data["phone"],
            channel=f.cleaned_data["channel"],
            is_company=party.is_company,
        )
        for party, f in zip(parties, party_forms, strict=True)
    ]
    try:
        services.envelope_correct(
            envelope=envelope,
            actor=_user(request),
            parties=inputs,
            deadline=timezone.now() + timedelta(days=form.cleaned_data["deadline_days"]),
            note=form.cleaned_data["note"],
        )
    except services.SendValidationError as exc:
        messages.error(request, _errors_text(exc.errors))
    except services.SigningError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Corrected. New links were sent; the previous links no longer work.")
        )
    return back


@require_POST
@login_required
def envelope_correct_fields(request: AuthenticatedHttpRequest, envelope_id: int) -> HttpResponse:
    from signing.views import _act, _user

    envelope = _act(request, envelope_id)
    if not flash_outcome(
        request,
        lambda: services.envelope_correction_open(envelope=envelope, actor=_user(request)),
        _(
            "The signing links are paused. Change the fields, then send the correction from "
            "the document's page."
        ),
        level=messages.INFO,
    ):
        return redirect("signing:envelope_detail", envelope_id=envelope.pk)
    return redirect("documents:edit_fields", document_id=envelope.document_id)
