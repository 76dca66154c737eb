"""Text neutralisation: the one place that decides which characters a stranger's text may keep.

Values typed by people end up in sealed PDFs, emails, SMS and pages. Invisible characters there
can spoof what a reader sees: U+202E (right-to-left override) followed by "0001" displays
"1000"; zero-width characters make two names look identical while differing. `clean_text`
removes every control and format character (bidi embeddings, overrides and isolates, marks,
zero-width spaces and joiners, word joiner, BOM, soft hyphen, tag characters) and normalises to
NFC. Forms get it through `CleanTextMixin`, so each text field sees the cleaned input before it
validates it (length limits apply to what is stored).
"""

import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from django import forms

# Every character of Unicode categories Cc (controls), Cf (format: bidi embeddings, overrides,
# isolates and marks U+202A-U+202E, U+2066-U+2069, U+200E/U+200F, U+061C; zero-width U+200B-U+200D,
# U+2060, U+FEFF; soft hyphen U+00AD; tag characters...) and Cs (lone surrogates, which no encoder
# accepts), as character classes: a regular expression removes them in C (a loop over
# unicodedata.category costs ~0.3 ms per 1,000 characters). The few outside the BMP are a class
# of their own, used only on text that has such characters: ranges that far out make the class
# four times slower on every character. Tab and line feed are not in the classes (kept, or made
# spaces, before they apply); tests/security/test_bidi.py checks the classes against the
# unicodedata of the running Python, so a newer Unicode cannot slip past them.
INVISIBLE_BMP = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891"
    r"\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff"
    r"\ufff9-\ufffb]"
)
INVISIBLE_ASTRAL = re.compile(
    r"[\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    r"\U000e0001\U000e0020-\U000e007f]"
)
OUTSIDE_BMP = re.compile(r"[\U00010000-\U0010ffff]")
# Line breaks: a multi-line value keeps them (as "\n"), a single-line value gets a space.
LINE_BREAKS = re.compile(r"[\n\r\x85\u2028\u2029]")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """`value` without control, format or bidi characters, NFC-normalised.

    A multi-line value keeps its line breaks (CR LF and the Unicode separators become "\\n")
    and its tabs; a single-line value gets a space for each of them.
    """
    if not value:
        return value
    if value.isascii() and value.isprintable():
        return value  # the common case: nothing to remove, already NFC
    text = LINE_BREAKS.sub("\n" if multiline else " ", value.replace("\r\n", "\n"))
    if not multiline:
        text = text.replace("\t", " ")
    text = INVISIBLE_BMP.sub("", text)
    if OUTSIDE_BMP.search(text):
        text = INVISIBLE_ASTRAL.sub("", text)
    # After the removal: "e" + ZWSP + U+0301 composes to "é" only once the ZWSP is gone.
    return unicodedata.normalize("NFC", text)


def clean_value(value: Any, *, multiline: bool = True) -> Any:
    """`clean_text` applied to every string inside dicts, lists and tuples (template contexts)."""
    if isinstance(value, str):
        return clean_text(value, multiline=multiline)
    if isinstance(value, Mapping):
        return {key: clean_value(item, multiline=multiline) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(clean_value(item, multiline=multiline) for item in value)
    return value


class CleanTextMixin:
    """A form whose text fields (every `CharField`, email and slug fields included) validate the
    input after `clean_text`: a `Textarea` keeps its line breaks, any other input is one line.

    The bound data is cleaned when the form is built, so a form shown again after an error shows
    the cleaned value too. Put the mixin first: `class MyForm(CleanTextMixin, forms.Form)`.
    """

    fields: dict[str, forms.Field]
    data: Any
    is_bound: bool
    add_prefix: Callable[[str], str]  # forms.BaseForm's

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound:
            self.data = self._cleaned_input(self.data)

    def _cleaned_input(self, data: Any) -> Any:
        if hasattr(data, "getlist") and hasattr(data, "setlist"):
            cleaned = data.copy()  # a QueryDict is immutable; the copy is ours
        else:
            cleaned = dict(data)
        for name, field in self.fields.items():
            if not isinstance(field, forms.CharField):
                continue
            key = self.add_prefix(name)
            if key not in cleaned:
                continue
            multiline = isinstance(field.widget, forms.Textarea)
            if hasattr(cleaned, "setlist"):
                cleaned.setlist(
                    key,
                    [
                        clean_text(v, multiline=multiline) if isinstance(v, str) else v
                        for v in cleaned.getlist(key)
                    ],
                )
            else:
                cleaned[key] = clean_value(cleaned[key], multiline=multiline)
        return cleaned
