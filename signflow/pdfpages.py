"""A pikepdf page seen through the few attributes the page-geometry code reads from pypdf.

Sealing edits documents with pikepdf (qpdf): it reads objects from the file as they are needed
and copies unchanged stream data straight from the input when it writes, so a 20 MB scan is
never held in memory whole. signflow.pdf.PageGeometry reads `mediabox`, `cropbox` and
`get("/Rotate")` as pypdf pages offer them (inherited from the page tree, the CropBox falling
back to the MediaBox): `PikePage` offers the same on a pikepdf page.
"""

from __future__ import annotations

from typing import Any

# Attributes a page inherits from its ancestors in the page tree (ISO 32000-1, 7.7.3.4).
INHERITABLE = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
MAX_TREE_DEPTH = 64  # a loop in /Parent links must not hang the sealing worker


def inherited(obj: Any, key: str) -> Any:
    """`key` of the page dictionary `obj`, or of its nearest ancestor that has it."""
    node = obj
    for _depth in range(MAX_TREE_DEPTH):
        if node is None:
            return None
        if key in node:
            return node[key]
        node = node.get("/Parent")
    return None


class PikePage:
    """pypdf's page attributes read by the geometry code, on a pikepdf page."""

    def __init__(self, page: Any) -> None:
        self.obj = page.obj if hasattr(page, "obj") else page

    @property
    def mediabox(self) -> Any:
        box = inherited(self.obj, "/MediaBox")
        return box if box is not None else [0, 0, 612, 792]  # the PDF default (Letter)

    @property
    def cropbox(self) -> Any:
        box = inherited(self.obj, "/CropBox")
        return box if box is not None else self.mediabox

    def get(self, key: str, default: Any = None) -> Any:
        value = inherited(self.obj, key)
        return default if value is None else value


def own_resources(pdf: Any, page: Any) -> Any:
    """The page's /Resources as a dictionary of its own (an inherited one is copied down), so
    that what is added to it does not reach the other pages."""
    import pikepdf

    obj = page.obj if hasattr(page, "obj") else page
    if "/Resources" in obj:
        return obj.Resources
    found = inherited(obj, "/Resources")
    resources = (
        pikepdf.Dictionary(dict(found.items())) if found is not None else pikepdf.Dictionary()
    )
    obj.Resources = resources
    return obj.Resources
