"""The app's template renders, memoised for the test session.

Rendering a template (WeasyPrint, in a CPU- and memory-limited child process) is the largest
part of building a sent envelope: about 2 s of the ~2.5 s `sent_envelope` takes, and hundreds
of tests build one from the same invoice. WeasyPrint's output is a function of its inputs (the
same body, CSS, context and language give the same bytes), so each distinct render runs once
per test process and later calls get a copy of its result. Failures are not remembered: a
render that raises raises every time.

Only the app's call sites (documents.services, documents.authoring) are wrapped; tests that
call documents.rendering.render_pdf themselves, and tests marked `real_render`, render for
real.
"""

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from documents import authoring, rendering, services
from documents.rendering import RenderedPdf

_RENDERS: dict[str, RenderedPdf] = {}


def cached_render_pdf(**kwargs: Any) -> RenderedPdf:
    key = json.dumps(kwargs, sort_keys=True, default=str)
    if key not in _RENDERS:
        _RENDERS[key] = rendering.render_pdf(**kwargs)
    return copy.deepcopy(_RENDERS[key])


@pytest.fixture(autouse=True)
def _memoised_renders(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("real_render"):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "render_pdf", cached_render_pdf)
        patch.setattr(authoring, "render_pdf", cached_render_pdf)
        yield
