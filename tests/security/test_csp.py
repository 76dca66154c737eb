"""Content-Security-Policy: every HTML page of the access matrix answers with a policy that allows
no inline script and no eval, and its markup needs neither (no inline script, event handler,
style attribute or <style> element, no htmx construct that htmx runs through Function()).

The browser side of the same promise is tests/security/test_csp_browser.py."""

import re
from html.parser import HTMLParser
from typing import Any

from django.test import Client
from django.urls import reverse

from tests.security.conftest import World
from tests.security.test_access_matrix import OK, PUBLIC, ROUTES, Route

# Who opens each page: its owner first, then a manager, then anyone.
OPENERS = ("sender", "manager", "anonymous")
# A <script> of these types runs; application/json (json_script) does not.
EXECUTABLE_SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}
# An htmx trigger filter (`change[target.type!='x']`) and `hx-on` run through Function().
TRIGGER_FILTER = re.compile(r"(?:^|[\s,])[\w.-]+\[")


def _directives(header: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            result[words[0]] = words[1:]
    return result


class _InlineFinder(HTMLParser):
    """Collects what a strict policy would block in a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (event handler attribute)")
            elif name == "style":
                self.problems.append(f"<{tag} style={value!r}>")
            elif name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"<{tag} {name}=...> (hx-on needs eval)")
            elif name in ("hx-vals", "hx-vars") and value and value.lstrip().startswith("js"):
                self.problems.append(f"<{tag} {name}={value!r}> (evaluated by htmx)")
            elif name == "hx-trigger" and value and TRIGGER_FILTER.search(value):
                self.problems.append(f"<{tag} hx-trigger={value!r}> (filter needs eval)")
            elif name in ("href", "action", "formaction", "src") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            kind = (values.get("type") or "").strip().lower()
            if not values.get("src") and kind in EXECUTABLE_SCRIPT_TYPES:
                self._in_inline_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_inline_script:
            self._in_inline_script = False
            self.problems.append("inline <script>")


def inline_problems(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


def assert_strict_policy(response: Any) -> None:
    header = response.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = _directives(header)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src == ["'self'"], header
    assert "'unsafe-inline'" not in header
    assert "'unsafe-eval'" not in header
    assert directives["style-src"] == ["'self'"], header
    assert directives["object-src"] == ["'none'"], header
    assert directives["base-uri"] == ["'none'"], header
    assert directives["frame-ancestors"] == ["'none'"], header


def _opener(route: Route) -> str | None:
    for persona in OPENERS:
        if route.expect.get(persona) in (OK, PUBLIC):
            return persona
    return None


PAGES = [route for route in ROUTES if route.method == "get" and _opener(route)]


def test_the_inline_finder_sees_what_the_policy_blocks() -> None:
    page = (
        '<script>alert(1)</script><script src="/static/x.js"></script>'
        '<script type="application/json" id="d">{}</script>'
        '<p style="color:red" onclick="x()">x</p><style>p{}</style>'
        '<form hx-get="/" hx-trigger="change[target.type!=\'search\'], submit"></form>'
        '<form hx-trigger="input changed from:input[type=search]"></form>'
        '<a href="javascript:void(0)" hx-on:click="x()">y</a>'
    )
    assert inline_problems(page) == [
        "inline <script>",
        "<p style='color:red'>",
        "<p onclick=...> (event handler attribute)",
        "<style> element",
        "<form hx-trigger=\"change[target.type!='search'], submit\"> (filter needs eval)",
        "<a href='javascript:void(0)'>",
        "<a hx-on:click=...> (hx-on needs eval)",
    ]


def test_every_html_page_has_a_strict_policy_and_no_inline_code(
    world: World, clients: dict[str, Client]
) -> None:
    # One world for every page (GET only): building it per page would triple the time.
    checked = 0
    failures: dict[str, list[str]] = {}
    for route in PAGES:
        persona = _opener(route)
        assert persona is not None
        url = reverse(route.name, kwargs=route.kwargs(world))
        response = clients[persona].get(url, route.data(world), **route.headers)
        assert response.status_code < 500, url
        if response.status_code in (301, 302):
            continue  # not a page: where it leads is a page of its own in this list
        if not response.get("Content-Type", "").startswith("text/html"):
            continue  # PDFs, images, JSON, CSV: no document to protect
        assert_strict_policy(response)
        problems = inline_problems(response.content.decode())
        if problems:
            failures[url] = problems
        checked += 1
    assert not failures, failures
    assert checked >= 40, checked  # the list above did not silently shrink


def test_the_pages_a_route_list_cannot_open_are_strict_too(
    world: World, clients: dict[str, Client]
) -> None:
    # Django's admin (outside the matrix) and a template preview posted by htmx.
    response = clients["anonymous"].get("/admin/login/")
    assert response.status_code == 200
    assert_strict_policy(response)
    assert not inline_problems(response.content.decode())

    response = clients["sender"].post(
        reverse("documents:template_preview"),
        {"template": world.template.pk, "body": "<p>x</p>", "page": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert not inline_problems(response.content.decode())


def test_the_verification_page_loads_its_script_from_a_static_file(client: Client) -> None:
    response = client.get(reverse("verification:verify"))
    body = response.content.decode()
    assert 'src="/static/js/verify.js"' in body
    assert not inline_problems(body)
