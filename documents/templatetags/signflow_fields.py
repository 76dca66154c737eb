"""`{% field %}`: a box in a document template where a party signs, stamps or fills in data.

    {% field "signature" party="client" label="Signature du client" width="6cm" height="2.5cm" %}

renders an inline-block box with a unique id. After WeasyPrint lays the page out, the box's
rectangle is read back from `page.anchors` (documents.rendering) and stored as a Field.
"""

import re
from dataclasses import dataclass
from typing import Any

from django import template
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext as _

from documents.models import Field

register = template.Library()

COLLECTOR_KEY = "signflow_field_collector"
_LENGTH = re.compile(r"^\d{1,4}(\.\d{1,3})?(cm|mm|pt|px|in)$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_DEFAULT_SIZES = {
    Field.Kind.SIGNATURE: ("6cm", "2.5cm"),
    Field.Kind.INITIALS: ("2cm", "1.2cm"),
    Field.Kind.STAMP: ("3.5cm", "3.5cm"),
    Field.Kind.DATE: ("4cm", "0.8cm"),
    Field.Kind.CHECKBOX: ("0.6cm", "0.6cm"),
    Field.Kind.MENTION: ("5.5cm", "0.9cm"),
}


@dataclass
class FieldSpec:
    key: str
    kind: str
    role: str
    label: str
    required: bool
    phrase: str = ""


class FieldCollector:
    """Collects the fields a template renders, in order, and hands out unique ids."""

    def __init__(self, *, reader_language: str | None = None) -> None:
        self.fields: list[FieldSpec] = []
        # Errors go to the person editing the template, in their language; the document itself
        # (labels) is rendered in its own language.
        self.reader_language = reader_language

    def add(
        self, *, kind: str, role: str, label: str, required: bool, key: str = "", phrase: str = ""
    ) -> str:
        if not key:
            key = f"{kind}-{role}-{len(self.fields) + 1}"
        if any(spec.key == key for spec in self.fields):
            raise template.TemplateSyntaxError(_('Two fields use the same key "%s".') % key)
        self.fields.append(
            FieldSpec(
                key=key, kind=kind, role=role, label=label, required=required, phrase=phrase[:200]
            )
        )
        return key


def anchor_id(key: str) -> str:
    return f"sf-field-{key}"


def default_label(kind: str, role: str) -> str:
    return f"{Field.Kind(kind).label} – {Field.Role(role).label}"


@register.simple_tag(takes_context=True)
def field(
    context: template.Context,
    kind: str,
    party: str = "client",
    label: str | None = None,
    width: str | None = None,
    height: str | None = None,
    required: Any = True,
    key: str = "",
    phrase: str = "",
) -> str:
    collector = context.get(COLLECTOR_KEY)
    if not isinstance(collector, FieldCollector):
        collector = FieldCollector()
        context[COLLECTOR_KEY] = collector
    with translation.override(collector.reader_language or translation.get_language()):
        _check_arguments(kind=kind, party=party, width=width, height=height, key=key)
    default_width, default_height = _DEFAULT_SIZES.get(Field.Kind(kind), ("5cm", "0.8cm"))
    width = width or default_width
    height = height or default_height
    key = str(key or "")
    label = str(label) if label is not None else default_label(kind, party)
    with translation.override(collector.reader_language or translation.get_language()):
        key = collector.add(
            kind=kind,
            role=party,
            label=label,
            required=required not in (False, "false", "0", 0),
            key=key,
            phrase=str(phrase or ""),
        )
    return _box(kind=kind, party=party, key=key, width=width, height=height, label=label)


def _check_arguments(
    *, kind: str, party: str, width: str | None, height: str | None, key: str
) -> None:
    if kind not in Field.Kind.values:
        raise template.TemplateSyntaxError(
            _('Unknown field kind "%(kind)s". Use one of: %(kinds)s.')
            % {"kind": kind, "kinds": ", ".join(Field.Kind.values)}
        )
    if party not in Field.Role.values:
        raise template.TemplateSyntaxError(
            _('Unknown party "%(party)s". Use "company" or "client".') % {"party": party}
        )
    for length in (width, height):
        if length and not _LENGTH.match(str(length)):
            raise template.TemplateSyntaxError(
                _('Field size "%s" is not a length such as 6cm, 25mm or 120pt.') % length
            )
    key = str(key or "")
    if key and not _KEY.match(key):
        raise template.TemplateSyntaxError(
            _('Field key "%s" may only use lowercase letters, digits, "-" and "_".') % key
        )


def _box(*, kind: str, party: str, key: str, width: str, height: str, label: str) -> str:
    # The caption sits above the box, outside it: the box itself stays empty for the value.
    return format_html(
        '<span class="sf-field-wrap sf-field-{kind}"><span class="sf-field-caption">{label}</span>'
        '<span class="sf-field sf-party-{role}" id="{id}" style="width: {w}; height: {h}" '
        'data-kind="{kind}" data-party="{role}"></span></span>',
        kind=kind,
        role=party,
        id=anchor_id(key),
        w=width,
        h=height,
        label=label,
    )
