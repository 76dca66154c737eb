"""Uploaded PDFs are rewritten without what could act on a reader's machine or hide data.

Removed: JavaScript (document, open action, page, annotation and field actions), every other
automatic action (/OpenAction, /AA), Launch, URI, SubmitForm/ImportData and remote GoTo actions
(the links carrying them go with them), embedded files and file attachment annotations,
multimedia annotations, and XFA. Form fields are flattened onto the page with their appearance
(generated first when the file asks viewers to do it with /NeedAppearances, so a value that was
only visible thanks to the viewer stays visible), and the form itself goes away. A file that
already carries a signature is refused: sealing it would fail (a certification must be the
first signature) and would break its signature anyway.

The result is always a fresh file written by qpdf (through pikepdf): encryption with an empty
user password is removed, cross-reference damage the checks accepted is repaired. `removed`
counts what went, by stable keys the certificate of completion names (verification.certificate).
"""

import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pikepdf
from django.utils.translation import gettext as _
from pikepdf import Array, Dictionary, Name

from documents.errors import DocumentError

logger = logging.getLogger(__name__)

# How many objects a walk of a name tree, the outlines or the form fields may visit: a hostile
# file can make them long, or loop (visited sets stop loops, this stops length).
MAX_WALK = 20_000
MAX_NAMES_KEPT = 20
DANGEROUS_ACTIONS = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/URI": "uri",
    "/SubmitForm": "remote",
    "/ImportData": "remote",
    "/GoToR": "remote",
    "/GoToE": "remote",
    "/Rendition": "multimedia",
    "/Movie": "multimedia",
    "/Sound": "multimedia",
    "/RichMediaExecute": "multimedia",
    "/GoTo3DView": "multimedia",
}
MEDIA_ANNOTATIONS = {"/Screen", "/Movie", "/Sound", "/RichMedia", "/3D"}
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class SanitizedPdf:
    data: bytes
    # Stable keys -> counts; "embedded_files" -> file names (see verification.certificate).
    removed: dict[str, Any] = field(default_factory=dict)


class _Report:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.files: list[str] = []

    def file(self, name: str) -> None:
        self.counts["embedded_files"] += 1
        if len(self.files) < MAX_NAMES_KEPT:
            self.files.append(CONTROL_CHARS.sub("", name)[:120] or "?")

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {key: count for key, count in sorted(self.counts.items()) if count}
        if self.files:
            result["embedded_file_names"] = self.files
        return result


def _name(obj: Any) -> str:
    try:
        return str(obj) if isinstance(obj, Name) else ""
    except Exception:
        return ""


def _text(obj: Any) -> str:
    try:
        return str(obj)
    except Exception:
        return ""


def _actions(action: Any) -> list[str]:
    """The types of an action and of the actions chained after it with /Next."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    todo = [action]
    while todo and len(found) < MAX_WALK:
        current = todo.pop()
        if isinstance(current, Array):
            todo.extend(current)
            continue
        if not isinstance(current, Dictionary):
            continue
        if current.is_indirect:
            if current.objgen in seen:
                continue
            seen.add(current.objgen)
        found.append(_name(current.get("/S")))
        if "/Next" in current:
            todo.append(current.Next)
    return found


def _count_actions(report: _Report, types: list[str]) -> None:
    for kind in types:
        report.counts[DANGEROUS_ACTIONS.get(kind, "actions")] += 1


def _is_dangerous(types: list[str]) -> bool:
    return any(kind in DANGEROUS_ACTIONS for kind in types)


def _remove_additional_actions(obj: Any, report: _Report) -> None:
    if "/AA" in obj:
        aa = obj.AA
        if isinstance(aa, Dictionary):
            for key in list(aa.keys()):
                _count_actions(report, _actions(aa[key]) or [""])
        else:
            report.counts["actions"] += 1
        del obj["/AA"]


def _walk(roots: Iterable[Any], children: Callable[[Dictionary], Iterable[Any]]) -> Iterator[Any]:
    """Each dictionary reachable from `roots` through `children`, once (a crafted file can loop)
    and at most MAX_WALK nodes visited (a crafted file can be long)."""
    seen: set[tuple[int, int]] = set()
    todo = list(roots)
    visited = 0
    while todo and visited < MAX_WALK:
        node = todo.pop()
        visited += 1
        if not isinstance(node, Dictionary):
            continue
        if node.is_indirect:
            if node.objgen in seen:
                continue
            seen.add(node.objgen)
        yield node
        todo.extend(children(node))


def _array(node: Dictionary, key: str) -> list[Any]:
    value = node.get(key)
    return list(value) if isinstance(value, Array) else []


def _name_tree_leaves(node: Any) -> list[tuple[str, Any]]:
    leaves: list[tuple[str, Any]] = []
    for current in _walk([node], lambda n: _array(n, "/Kids")):
        items = _array(current, "/Names")
        for index in range(0, len(items) - 1, 2):
            leaves.append((_text(items[index]), items[index + 1]))
    return leaves


def _filespec_name(spec: Any, fallback: str) -> str:
    if isinstance(spec, Dictionary):
        for key in ("/UF", "/F"):
            if key in spec:
                return _text(spec[key])
    return fallback


def _is_signed(pdf: pikepdf.Pdf) -> bool:
    perms = pdf.Root.get("/Perms")
    if isinstance(perms, Dictionary) and "/DocMDP" in perms:
        return True
    acroform = pdf.Root.get("/AcroForm")
    roots = _array(acroform, "/Fields") if isinstance(acroform, Dictionary) else []
    for page in pdf.pages:
        roots.extend(_array(page.obj, "/Annots"))
    return any(
        _name(node.get("/FT")) == "/Sig" and isinstance(node.get("/V"), Dictionary)
        for node in _walk(roots, lambda n: _array(n, "/Kids"))
    )


def _field_kids(node: Dictionary) -> list[Any]:
    """A field's child fields (kids with a name); kids that are only widgets do not count."""
    return [kid for kid in _array(node, "/Kids") if isinstance(kid, Dictionary) and "/T" in kid]


def _form_field_count(acroform: Any) -> int:
    """Terminal fields of the form (a field whose kids are only widgets counts once)."""
    if not isinstance(acroform, Dictionary):
        return 0
    return sum(
        1 for node in _walk(_array(acroform, "/Fields"), _field_kids) if not _field_kids(node)
    )


def _clean_catalog(pdf: pikepdf.Pdf, report: _Report) -> None:
    root = pdf.Root
    if "/OpenAction" in root:
        action = root.OpenAction
        # An array is a destination ("open at page 2"): harmless, but an action all the same.
        _count_actions(report, _actions(action) if isinstance(action, Dictionary) else [""])
        del root["/OpenAction"]
    _remove_additional_actions(root, report)
    names = root.get("/Names")
    if isinstance(names, Dictionary):
        _clean_names(names, report)
        if not names.keys():
            del root["/Names"]
    _clean_attached_files(root, report)
    perms = root.get("/Perms")
    if isinstance(perms, Dictionary):
        # Usage rights (/UR3) sign the original bytes: the rewrite voids them anyway.
        del root["/Perms"]
    acroform = root.get("/AcroForm")
    if isinstance(acroform, Dictionary) and "/XFA" in acroform:
        report.counts["xfa"] += 1
        del acroform["/XFA"]
        if "/NeedsRendering" in root:
            del root["/NeedsRendering"]


def _clean_names(names: Dictionary, report: _Report) -> None:
    """The catalog's name trees that run or carry things: scripts, files, multimedia."""
    if "/JavaScript" in names:
        report.counts["javascript"] += max(1, len(_name_tree_leaves(names.JavaScript)))
        del names["/JavaScript"]
    if "/EmbeddedFiles" in names:
        for key, spec in _name_tree_leaves(names.EmbeddedFiles):
            report.file(_filespec_name(spec, key))
        del names["/EmbeddedFiles"]
    for key in ("/AlternatePresentations", "/Renditions"):
        if key in names:
            report.counts["multimedia"] += 1
            del names[key]


def _clean_attached_files(root: Any, report: _Report) -> None:
    """Associated files (PDF/A-3) and portfolios are embedded files too."""
    if "/AF" in root:
        for spec in root.AF if isinstance(root.AF, Array) else [root.AF]:
            name = _filespec_name(spec, "?")
            if name not in report.files:
                report.file(name)
        del root["/AF"]
    if "/Collection" in root:
        del root["/Collection"]


def _clean_outlines(pdf: pikepdf.Pdf, report: _Report) -> None:
    outlines = pdf.Root.get("/Outlines")
    if not isinstance(outlines, Dictionary):
        return
    for item in _walk([outlines.get("/First")], lambda n: [n.get("/First"), n.get("/Next")]):
        if "/A" in item:
            types = _actions(item.A)
            if _is_dangerous(types):
                _count_actions(report, types)
                del item["/A"]


def _clean_annotations(page: Dictionary, report: _Report) -> None:
    """Page and annotation actions, and the annotations that only exist to run or carry things."""
    _remove_additional_actions(page, report)
    if "/AF" in page:
        del page["/AF"]
    annots = page.get("/Annots")
    if not isinstance(annots, Array):
        return
    kept = [annot for annot in annots if _keep_annotation(annot, report)]
    if len(kept) != len(annots):
        page.Annots = Array(kept)


def _keep_annotation(annot: Any, report: _Report) -> bool:
    """Whether the annotation stays (its actions removed); what goes is counted."""
    if not isinstance(annot, Dictionary):
        return False
    subtype = _name(annot.get("/Subtype"))
    if subtype == "/FileAttachment":
        report.file(_filespec_name(annot.get("/FS"), "?"))
        return False
    if subtype in MEDIA_ANNOTATIONS:
        report.counts["multimedia"] += 1
        return False
    _remove_additional_actions(annot, report)
    if "/A" in annot:
        types = _actions(annot.A)
        if _is_dangerous(types):
            _count_actions(report, types)
            if subtype == "/Link":
                return False  # a link that only did that has no purpose left
            del annot["/A"]
    return True


def _is_widget(annot: Any) -> bool:
    return isinstance(annot, Dictionary) and _name(annot.get("/Subtype")) == "/Widget"


def _flatten_form(pdf: pikepdf.Pdf, report: _Report) -> None:
    """Form fields drawn into the pages as they show; other annotations (comments, links
    kept) are left as they are."""
    acroform = pdf.Root.get("/AcroForm")
    if not isinstance(acroform, Dictionary):
        return
    fields = _form_field_count(acroform)
    # Viewers draw these values themselves when asked to: draw them now, or they vanish.
    if acroform.get("/NeedAppearances") is not None and bool(acroform.NeedAppearances):
        pdf.generate_appearance_streams()
    _flatten_widgets_only(pdf)
    if "/AcroForm" in pdf.Root:
        del pdf.Root["/AcroForm"]
    if fields:
        report.counts["form_fields"] += fields


def _flatten_widgets_only(pdf: pikepdf.Pdf) -> None:
    """qpdf flattens every annotation with an appearance: show it only the widgets, then give
    each page back its other annotations."""
    others: dict[int, list[Any]] = {}
    for index, page in enumerate(pdf.pages):
        annots = page.obj.get("/Annots")
        if isinstance(annots, Array):
            others[index] = [annot for annot in annots if not _is_widget(annot)]
            page.obj.Annots = Array([annot for annot in annots if _is_widget(annot)])
    pdf.flatten_annotations("all")
    # Widgets qpdf did not flatten (hidden, or no appearance: nothing shows) go with the form.
    for index, page in enumerate(pdf.pages):
        if index in others:
            if others[index]:
                page.obj.Annots = Array(others[index])
            elif "/Annots" in page.obj:
                del page.obj["/Annots"]


def sanitize_pdf(data: bytes, *, max_pages: int) -> SanitizedPdf:
    """`data` rewritten without active content (see the module), or DocumentError."""
    unreadable = _(
        "This PDF file is damaged or incomplete and cannot be read. "
        "Export it again from the original application and upload the new file."
    )
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise DocumentError(
            _(
                "This PDF is protected by a password or encrypted. Remove the protection "
                "(print it to a new PDF, for instance) and upload it again."
            )
        ) from exc
    except Exception as exc:
        logger.info("qpdf refused an upload: %s", exc)
        raise DocumentError(unreadable) from exc
    with pdf:
        try:
            page_count = len(pdf.pages)
            if page_count > max_pages:
                raise DocumentError(
                    _("This PDF has %(count)d pages; the limit is %(limit)d.")
                    % {"count": page_count, "limit": max_pages}
                )
            if _is_signed(pdf):
                raise DocumentError(
                    _(
                        "This PDF already carries an electronic signature: signing it again "
                        "would break that signature. Upload the original document, before "
                        "it was signed."
                    )
                )
            report = _Report()
            _clean_catalog(pdf, report)
            _clean_outlines(pdf, report)
            for page in pdf.pages:
                _clean_annotations(page.obj, report)
            _flatten_form(pdf, report)
            out = io.BytesIO()
            pdf.save(out, deterministic_id=True, encryption=False)
        except DocumentError:
            raise
        except Exception as exc:
            logger.info("qpdf could not rewrite an upload: %s", exc)
            raise DocumentError(unreadable) from exc
    return SanitizedPdf(data=out.getvalue(), removed=report.as_dict())
