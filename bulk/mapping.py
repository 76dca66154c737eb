"""What a column can mean, and one row read and checked through the mapping.

A target is a string: a contact of the client party (`client.name`, `client.email`,
`client.phone`, `client.channel`), the envelope's `language`, a template variable
(`var:deal.title`, from documents.contexts.crm_variables) or a field to prefill
(`field:<key>`). Rows are checked with the send screen's own rules
(signing.services.validate_party_input) and the CRM's phone rule (crm.validators.clean_phone)
for phone variables: a row the send screen would refuse is refused here, before anything is
sent.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.validators import clean_phone
from signing.models import Party
from signing.services import PartyInput, validate_party_input

CONTACT_TARGETS = {
    "client.name": gettext_lazy("Signer: name"),
    "client.email": gettext_lazy("Signer: email"),
    "client.phone": gettext_lazy("Signer: mobile phone"),
    "client.channel": gettext_lazy("Signer: channel (email or sms)"),
    "language": gettext_lazy("Language (fr or en)"),
}
# Fields a value can be given to in advance (the signer sees it filled in).
PREFILLABLE_KINDS = {"text", "number", "date", "name", "requisites"}

# Header spellings recognised without the employee choosing (accents, case, spaces ignored).
ALIASES = {
    "client.name": {"name", "nom", "fullname", "nomcomplet", "signer", "signataire", "client"},
    "client.email": {"email", "mail", "courriel", "adressemail", "emailaddress"},
    "client.phone": {"phone", "telephone", "tel", "mobile", "portable", "mobilephone", "gsm"},
    "client.channel": {"channel", "canal", "envoi", "sendby"},
    "language": {"language", "langue", "lang"},
}
CHANNELS = {
    "email": Party.Channel.EMAIL,
    "mail": Party.Channel.EMAIL,
    "courriel": Party.Channel.EMAIL,
    "sms": Party.Channel.SMS,
    "texto": Party.Channel.SMS,
}
LANGUAGES = {
    "fr": "fr",
    "francais": "fr",
    "french": "fr",
    "en": "en",
    "anglais": "en",
    "english": "en",
}


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9.]", "", folded.lower())


@dataclass
class Spec:
    """What a row needs to be read: the mapping and what the batch offers."""

    mapping: dict[int, str]
    variables: list[str]
    fields: list[dict[str, Any]]
    default_language: str


@dataclass
class RowData:
    party: PartyInput
    language: str
    variables: dict[str, str] = field(default_factory=dict)
    prefilled: dict[str, str] = field(default_factory=dict)


def target_choices(*, variables: list[str], fields: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The options of a column's select, grouped as the mapping screen shows them."""
    choices: list[tuple[str, Any]] = [("", _("Ignore this column"))]
    choices += [(key, label) for key, label in CONTACT_TARGETS.items()]
    choices += [(f"var:{name}", _("Variable: %s") % name) for name in variables]
    choices += [
        (f"field:{spec['key']}", _("Field: %s") % (spec.get("label") or spec["key"]))
        for spec in fields
        if spec["kind"] in PREFILLABLE_KINDS
    ]
    return choices


def auto_mapping(
    *, header: list[str], variables: list[str], fields: list[dict[str, Any]]
) -> dict[str, str]:
    """Column index (as a string) -> target, from the header's spelling."""
    known: dict[str, str] = {}
    for target, spellings in ALIASES.items():
        for spelling in spellings:
            known[spelling] = target
    for name in variables:
        known[_key(name)] = f"var:{name}"
    for spec in fields:
        if spec["kind"] in PREFILLABLE_KINDS:
            known.setdefault(_key(spec["key"]), f"field:{spec['key']}")
            if spec.get("label"):
                known.setdefault(_key(spec["label"]), f"field:{spec['key']}")
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, title in enumerate(header):
        found = known.get(_key(title))
        if found and found not in used:
            mapping[str(index)] = found
            used.add(found)
    return mapping


def mapping_errors(mapping: dict[int, str], *, allowed: set[str]) -> list[str]:
    """What the mapping itself lacks: the required columns, or a target chosen twice."""
    errors: list[str] = []
    targets = list(mapping.values())
    for target in sorted({t for t in targets if targets.count(t) > 1}):
        errors.append(_("Two columns are mapped to “%s”.") % _label(target))
    for target in targets:
        if target not in allowed:
            errors.append(_("“%s” is not something this batch can fill in.") % target)
    if "client.name" not in targets:
        errors.append(_("Choose the column that holds the signer's name."))
    if "client.email" not in targets and "client.phone" not in targets:
        errors.append(_("Choose the column that holds the signer's email or mobile phone."))
    return errors


def _label(target: str) -> str:
    return str(CONTACT_TARGETS.get(target, target.split(":", 1)[-1]))


def read_row(spec: Spec, cells: list[str]) -> tuple[RowData, list[str]]:
    """The row's values by target, checked; errors are sentences naming the column's meaning."""
    values = {
        target: cells[index] if index < len(cells) else "" for index, target in spec.mapping.items()
    }
    errors: list[str] = []
    channel_text = _key(values.get("client.channel", ""))
    channel = CHANNELS.get(channel_text, "")
    if channel_text and not channel:
        errors.append(_("Channel: write email or sms."))
    if not channel:
        channel = Party.Channel.EMAIL if values.get("client.email") else Party.Channel.SMS
    language_text = _key(values.get("language", ""))
    language = LANGUAGES.get(language_text, "")
    if language_text and not language:
        errors.append(_("Language: write fr or en."))
    party = PartyInput(
        role=Party.Role.CLIENT,
        name=values.get("client.name", ""),
        email=values.get("client.email", ""),
        phone=values.get("client.phone", ""),
        channel=channel,
    )
    labels = {"name": "client.name", "email": "client.email", "phone": "client.phone"}
    for name, message in validate_party_input(party).items():
        errors.append(f"{_label(labels.get(name, 'client.channel'))}: {message}")
    data = RowData(party=party, language=language or spec.default_language)
    for target, value in values.items():
        if target.startswith("var:"):
            name = target[4:]
            if name.endswith("phone") and value:
                try:
                    value = clean_phone(value)
                except ValidationError as exc:
                    errors.append(f"{name}: {exc.messages[0]}")
            data.variables[name] = value
        elif target.startswith("field:") and value:
            data.prefilled[target[6:]] = value
    return data, errors


def template_context(base: dict[str, Any], data: RowData) -> dict[str, Any]:
    """The template's context for one row: the company's own data, the mapped variables, and
    the signer's name and contacts where the file gives no client or contact of its own."""
    context: dict[str, Any] = {key: dict(value) for key, value in base.items()}
    for group in ("client", "contact", "deal", "invoice"):
        context.setdefault(group, {})
    context["client"].setdefault("legal_name", data.party.name)
    context["client"].setdefault("email", data.party.email)
    context["client"].setdefault("phone", data.party.phone)
    context["contact"].setdefault("name", data.party.name)
    context["contact"].setdefault("email", data.party.email)
    for name, value in data.variables.items():
        group, _dot, key = name.partition(".")
        if key and value:  # an empty cell keeps the default (the signer's name...)
            context.setdefault(group, {})[key] = value
    return context
