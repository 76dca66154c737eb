"""The template language employees write documents in: an allow-list of Django tags and filters,
with a budget of loop turns, output and CPU time per render.

Templates are written in the browser by any employee and rendered by the web process, so the
engine knows only the tags and filters listed here: nothing that reads the server (`debug`,
`include`, `extends`, `ssi`, `url`, `static`, `csrf_token`), nothing that marks data as HTML
(`safe`, `autoescape`: CRM values come from clients and signers), and no filter whose output
grows with an argument (`ljust`, `center`, `stringformat`: capped or left out). `{% load %}`
accepts only the names of libraries already built in (`{% load i18n %}` heads the shipped
templates) and loads nothing.

Loops are counted: every `{% for %}` charges its turns and its output to one `RenderBudget` per
render, which also watches the CPU time, so a nested loop over a long string stops within
milliseconds with the template line instead of holding a worker. documents.isolation runs the
whole render in a child process with kernel limits as the backstop for anything this misses.
"""

import re
import time
from collections.abc import Callable
from typing import Any, ClassVar, cast

from django import template
from django.template import Engine, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Node, NodeList
from django.template.defaulttags import ForNode
from django.templatetags import i18n, l10n
from django.utils.translation import gettext as _

from documents.templatetags import signflow_fields
from signflow.templatetags import signflow as signflow_tags

MAX_LOOP_TURNS = 50_000
MAX_OUTPUT_CHARS = 2_000_000
MAX_CPU_SECONDS = 4.0  # the child process's kernel limit (documents.isolation) is a bit higher
MAX_PADDING = 200
MAX_DECIMALS = 30

ALLOWED_TAGS: dict[Any, tuple[str, ...]] = {
    defaulttags.register: (
        "comment",
        "cycle",
        "filter",
        "firstof",
        "if",
        "ifchanged",
        "now",
        "regroup",
        "resetcycle",
        "spaceless",
        "verbatim",
        "widthratio",
        "with",
    ),
    i18n.register: ("translate", "trans", "blocktranslate", "blocktrans", "language"),
    l10n.register: ("localize",),
    signflow_fields.register: ("field",),
}
ALLOWED_FILTERS: dict[Any, tuple[str, ...]] = {
    defaultfilters.register: (
        "add",
        "addslashes",
        "capfirst",
        "cut",
        "date",
        "default",
        "default_if_none",
        "dictsort",
        "dictsortreversed",
        "divisibleby",
        "escape",
        "escapejs",
        "escapeseq",
        "filesizeformat",
        "first",
        "force_escape",
        "get_digit",
        "iriencode",
        "last",
        "length",
        "linebreaks",
        "linebreaksbr",
        "linenumbers",
        "lower",
        "make_list",
        "phone2numeric",
        "pluralize",
        "random",
        "slice",
        "slugify",
        "striptags",
        "time",
        "timesince",
        "timeuntil",
        "title",
        "truncatechars",
        "truncatechars_html",
        "truncatewords",
        "truncatewords_html",
        "upper",
        "urlencode",
        "wordcount",
        "wordwrap",
        "yesno",
    ),
    l10n.register: ("localize", "unlocalize"),
    signflow_tags.register: ("money",),
}
# `{% load x %}` of these is accepted and does nothing: their allowed tags are built in.
BUILT_IN_LIBRARIES = frozenset({"i18n", "l10n", "signflow", "signflow_fields"})

register = template.Library()


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


def _too_long(limit: int) -> str:
    return _("This template produces more than %(limit)s characters of HTML.") % {
        "limit": _thousands(limit)
    }


class TemplateLimitError(TemplateSyntaxError):
    """A render went over its budget or used what is not allowed. `.message` is worded when
    read, in the language then active: the template's author reads it, while the document
    itself renders in its own language."""

    def __init__(self, message: Callable[[], str]) -> None:
        super().__init__(message())
        self._message = message

    @property
    def message(self) -> str:
        return self._message()


class RenderBudget:
    """Loop turns, output characters and CPU seconds one render may spend."""

    def __init__(
        self,
        *,
        max_turns: int = MAX_LOOP_TURNS,
        max_output: int = MAX_OUTPUT_CHARS,
        max_cpu_seconds: float = MAX_CPU_SECONDS,
    ) -> None:
        self.max_turns = max_turns
        self.max_output = max_output
        self.turns = 0
        self.output = 0
        self.deadline = time.process_time() + max_cpu_seconds
        self.max_cpu_seconds = max_cpu_seconds

    def charge_turns(self, count: int) -> None:
        self.turns += count
        if self.turns > self.max_turns:
            limit = _thousands(self.max_turns)
            raise TemplateLimitError(
                lambda: (
                    _("The loops of this template run more than %(limit)s times.")
                    % {"limit": limit}
                )
            )
        self.check_time()

    def charge_output(self, chars: int) -> None:
        self.output += chars
        self.check_output(self.output)

    def check_output(self, chars: int) -> None:
        if chars > self.max_output:
            limit = self.max_output
            raise TemplateLimitError(lambda: _too_long(limit))

    def check_time(self) -> None:
        if time.process_time() > self.deadline:
            seconds = f"{self.max_cpu_seconds:g}"
            raise TemplateLimitError(
                lambda: (
                    _("This template takes more than %(seconds)s seconds to render.")
                    % {"seconds": seconds}
                )
            )


class BudgetedContext(template.Context):
    """A Context that carries its render's budget: an attribute of the Context object, not a
    variable, so the template cannot reach it."""

    signflow_budget: RenderBudget

    def __init__(self, values: dict[str, Any], *, budget: RenderBudget, autoescape: bool) -> None:
        super().__init__(values, autoescape=autoescape)
        self.signflow_budget = budget


def budget_of(context: template.Context) -> RenderBudget:
    if isinstance(context, BudgetedContext):
        return context.signflow_budget
    # A context built elsewhere (a test rendering a tag directly): its own budget, kept on it.
    budget = getattr(context, "signflow_budget", None)
    if not isinstance(budget, RenderBudget):
        budget = RenderBudget()
        context.signflow_budget = budget  # type: ignore[attr-defined]  # only BudgetedContext declares it
    return budget


class _CountedSequence:
    """The loop's sequence, charged to the budget (every turn) before the loop starts."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def resolve(self, context: template.Context, ignore_failures: bool = False) -> Any:
        values = self.inner.resolve(context, ignore_failures=ignore_failures)
        if values is None:
            return values
        budget = budget_of(context)
        if not hasattr(values, "__len__"):
            items = []
            for item in values:
                items.append(item)
                budget.charge_turns(1)
            return items
        budget.charge_turns(len(values))
        return values

    def __str__(self) -> str:
        return str(self.inner)


class _MeteredBody(Node):
    """One turn of a loop's body; charges what it adds to the output (inner loops charge their
    own share, so nested output is counted once)."""

    child_nodelists = ("nodelist",)

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render_annotated(self, context: template.Context) -> str:
        # Not annotated here (this node has no token of its own): a budget error raised by
        # this node is annotated by the loop around it, with the loop's line.
        return self.render(context)

    def render(self, context: template.Context) -> str:
        budget = budget_of(context)
        budget.check_time()
        before = budget.output
        text = self.nodelist.render(context)
        budget.charge_output(len(text) - (budget.output - before))
        return text


class BoundedForNode(ForNode):
    def __init__(self, node: ForNode) -> None:
        body = _MeteredBody(cast(NodeList, node.nodelist_loop))
        sequence: Any = _CountedSequence(node.sequence)
        super().__init__(
            node.loopvars, sequence, node.is_reversed, NodeList([body]), node.nodelist_empty
        )


@register.tag("for")
def bounded_for(parser: Any, token: Any) -> BoundedForNode:
    return BoundedForNode(defaulttags.do_for(parser, token))


class _NoOpNode(Node):
    def render(self, _context: template.Context) -> str:
        return ""


@register.tag("load")
def load_built_in(_parser: Any, token: Any) -> Node:
    refused = [name for name in token.split_contents()[1:] if name not in BUILT_IN_LIBRARIES]
    if refused:
        shown = refused[0][:60]
        raise TemplateLimitError(
            lambda: (
                _('The library "%(name)s" cannot be loaded in a document template.')
                % {"name": shown}
            )
        )
    return _NoOpNode()


def _capped_padding(original: Any) -> Any:
    def padded(value: Any, arg: Any) -> Any:
        try:
            width = int(arg)
        except (TypeError, ValueError):
            return value
        return original(value, min(width, MAX_PADDING))

    return padded


def _capped_join(value: Any, arg: Any, autoescape: bool = True) -> Any:
    try:
        parts = list(value)
    except TypeError:
        return value
    size = sum(len(str(part)) for part in parts) + len(str(arg)) * max(0, len(parts) - 1)
    if size > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(lambda: _too_long(MAX_OUTPUT_CHARS))
    return defaultfilters.join(parts, arg, autoescape=autoescape)


def _capped_floatformat(text: Any, arg: Any = -1) -> Any:
    digits = re.sub(r"[^0-9]", "", str(arg))
    if digits and int(digits[:6]) > MAX_DECIMALS:
        arg = MAX_DECIMALS
    return defaultfilters.floatformat(text, arg)


for _library, _names in ALLOWED_TAGS.items():
    for _name in _names:
        register.tags[_name] = _library.tags[_name]
for _library, _names in ALLOWED_FILTERS.items():
    for _name in _names:
        register.filters[_name] = _library.filters[_name]
for _name in ("ljust", "rjust", "center"):
    register.filter(_name, _capped_padding(defaultfilters.register.filters[_name]), is_safe=True)
register.filter("join", _capped_join, is_safe=True, needs_autoescape=True)
register.filter("floatformat", _capped_floatformat, is_safe=True)


class SandboxEngine(Engine):
    # Django's defaults (every default tag and filter, `include` and `extends`) are left out:
    # the only builtins are this module's allow-list.
    default_builtins: ClassVar[list[str]] = []


ENGINE = SandboxEngine(
    debug=True,  # exceptions carry the template line (template_debug)
    loaders=[],
    libraries={},
    builtins=["documents.sandbox"],
    autoescape=True,
)

_INVALID_TAG = re.compile(r"^Invalid block tag on line \d+: '([^']+)'")
_INVALID_FILTER = re.compile(r"^Invalid filter: '([^']+)'")
_STRUCTURE_WORDS = re.compile(r"^(end\w+|else|elif|empty|plural)$")


def allowed_tags() -> list[str]:
    return sorted(register.tags)


def allowed_filters() -> list[str]:
    return sorted(register.filters)


def refusal_message(exc: Exception) -> str | None:
    """The author's message for a tag or filter that is not on the list, else None."""
    text = str(exc)
    match = _INVALID_TAG.match(text)
    if match and not _STRUCTURE_WORDS.match(match.group(1)):
        return _("The tag {%% %(name)s %%} is not allowed in document templates.") % {
            "name": match.group(1)[:60]
        }
    match = _INVALID_FILTER.match(text)
    if match:
        return _('The filter "%(name)s" is not allowed in document templates.') % {
            "name": match.group(1)[:60]
        }
    return None
