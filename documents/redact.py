"""Text taken out of a PDF's content streams, so that it is gone, not just hidden.

Text tags ({{signature:client}}...) must not survive in the sealed file: covering them with
white leaves them in the text that `pdftotext`, search and copy-paste find. Here each page's
content stream (and the form XObjects it draws) is parsed with pikepdf; the bytes of every
text-showing operator are decoded through their font (ToUnicode CMap, else the simple font's
encoding), the decoded text of the whole stream is matched against the pattern, and the glyphs
of each match are replaced in the operator by a TJ displacement of the same width, so the
text after a tag on the same line does not move.

Fonts this cannot decode (a composite font without ToUnicode) keep their text: the caller
checks the result with pdfium and covers what is left, as before.
"""

import io
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name, Operator, String

from documents.errors import DocumentError
from signflow import pdfguard

logger = logging.getLogger(__name__)

MAX_CMAP_BYTES = 2 * 1024 * 1024
MAX_FORM_DEPTH = 8
# Widths of the standard 14 fonts, when a simple font gives none (average, in 1/1000 em).
STANDARD_WIDTHS = {"Courier": 600, "Helvetica": 556, "Times": 500}
GLYPH_NAMES = {
    "space": " ",
    "braceleft": "{",
    "braceright": "}",
    "colon": ":",
    "underscore": "_",
    "hyphen": "-",
}
HEX = re.compile(rb"<([0-9A-Fa-f\s]*)>")
CMAP_TOKEN = re.compile(rb"<[0-9A-Fa-f\s]*>|\[|\]|[A-Za-z]+")


def _hex(token: bytes) -> bytes:
    digits = re.sub(rb"\s", b"", token.strip(b"<>"))
    if len(digits) % 2:
        digits += b"0"
    return bytes.fromhex(digits.decode("ascii"))


def _utf16(data: bytes) -> str:
    return data.decode("utf-16-be", errors="replace")


@dataclass
class _Font:
    """What decoding and measuring one font's strings needs."""

    code_lengths: list[int]
    chars: dict[bytes, str] = field(default_factory=dict)
    ranges: list[tuple[bytes, bytes, Any]] = field(default_factory=list)
    simple: bool = True
    encoding: dict[int, str] = field(default_factory=dict)
    widths: dict[int, float] = field(default_factory=dict)
    width_ranges: list[tuple[int, int, float]] = field(default_factory=list)
    default_width: float = 0.0
    scale: float = 1.0  # thousandths of text space per width unit (Type 3: FontMatrix)
    decodable: bool = True
    memo: dict[bytes, str] = field(default_factory=dict)

    def split(self, data: bytes) -> list[bytes]:
        lengths = sorted(set(self.code_lengths)) or [1]
        if len(lengths) == 1:
            size = lengths[0]
            return [data[index : index + size] for index in range(0, len(data), size)]
        codes = []
        index = 0
        while index < len(data):
            size = lengths[0]
            for length in lengths:
                code = data[index : index + length]
                if code in self.chars or any(
                    len(lo) == length and lo <= code <= hi for lo, hi, _ in self.ranges
                ):
                    size = length
                    break
            codes.append(data[index : index + size])
            index += size
        return codes

    def text(self, code: bytes) -> str:
        if code not in self.memo:
            self.memo[code] = self._text(code)
        return self.memo[code]

    def _text(self, code: bytes) -> str:
        if code in self.chars:
            return self.chars[code]
        for lo, hi, target in self.ranges:
            if len(lo) == len(code) and lo <= code <= hi:
                offset = int.from_bytes(code, "big") - int.from_bytes(lo, "big")
                if isinstance(target, list):
                    return _utf16(target[offset]) if offset < len(target) else ""
                value = int.from_bytes(target, "big") + offset
                return _utf16(value.to_bytes(len(target), "big"))
        if self.simple and len(code) == 1:
            return self.encoding.get(code[0], chr(code[0]) if 32 <= code[0] < 127 else "")
        return ""

    def width(self, code: bytes) -> float:
        number = int.from_bytes(code, "big")
        if number in self.widths:
            return self.widths[number] * self.scale
        for first, last, value in self.width_ranges:
            if first <= number <= last:
                return value * self.scale
        return self.default_width * self.scale


def _parse_cmap(data: bytes, font: _Font) -> None:
    tokens = CMAP_TOKEN.findall(data[:MAX_CMAP_BYTES])
    lengths: set[int] = set()
    index = 0
    mode = b""
    while index < len(tokens):
        token = tokens[index]
        if token in (b"begincodespacerange", b"beginbfchar", b"beginbfrange"):
            mode = token
        elif token.startswith(b"end"):
            mode = b""
        elif mode == b"begincodespacerange" and token.startswith(b"<"):
            lengths.add(len(_hex(token)))
            index += 1  # the range's upper bound
        elif mode == b"beginbfchar" and token.startswith(b"<") and index + 1 < len(tokens):
            font.chars[_hex(token)] = _utf16(_hex(tokens[index + 1]))
            index += 1
        elif mode == b"beginbfrange" and token.startswith(b"<") and index + 2 < len(tokens):
            lo, hi = _hex(token), _hex(tokens[index + 1])
            if tokens[index + 2] == b"[":
                targets = []
                index += 3
                while index < len(tokens) and tokens[index] != b"]":
                    targets.append(_hex(tokens[index]))
                    index += 1
                font.ranges.append((lo, hi, targets))
            else:
                font.ranges.append((lo, hi, _hex(tokens[index + 2])))
                index += 2
        index += 1
    if lengths:
        font.code_lengths = sorted(lengths)


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _simple_encoding(font_dict: Dictionary) -> dict[int, str]:
    encoding = font_dict.get("/Encoding")
    result: dict[int, str] = {}
    if isinstance(encoding, Dictionary) and isinstance(encoding.get("/Differences"), Array):
        code = 0
        for item in encoding.Differences:
            if isinstance(item, Name):
                name = str(item)[1:]
                if name in GLYPH_NAMES:
                    result[code] = GLYPH_NAMES[name]
                elif len(name) == 1:
                    result[code] = name
                elif name.startswith("uni") and len(name) == 7:
                    try:
                        result[code] = chr(int(name[3:], 16))
                    except ValueError:
                        result[code] = ""
                else:
                    result[code] = ""
                code += 1
            else:
                code = int(_number(item))
    return result


def _load_font(font_dict: Any) -> _Font | None:
    if not isinstance(font_dict, Dictionary):
        return None
    subtype = str(font_dict.get("/Subtype", ""))
    composite = subtype == "/Type0"
    font = _Font(code_lengths=[2] if composite else [1], simple=not composite)
    to_unicode = font_dict.get("/ToUnicode")
    if isinstance(to_unicode, pikepdf.Stream):
        try:
            _parse_cmap(to_unicode.read_bytes(), font)
        except Exception as exc:
            logger.info("unreadable ToUnicode CMap: %s", exc)
    if composite:
        _composite_metrics(font_dict, font)
    else:
        _simple_metrics(font_dict, font, subtype=subtype)
    return font


def _composite_metrics(font_dict: Any, font: _Font) -> None:
    """A Type0 font's widths, from its descendant CID font (/DW, /W)."""
    if not font.chars and not font.ranges:
        font.decodable = False
    descendants = font_dict.get("/DescendantFonts")
    cid_font = descendants[0] if isinstance(descendants, Array) and len(descendants) else None
    if not isinstance(cid_font, Dictionary):
        font.default_width = 1000.0
        return
    font.default_width = _number(cid_font.get("/DW"), 1000.0)
    widths = cid_font.get("/W")
    _read_cid_widths(list(widths) if isinstance(widths, Array) else [], font)


def _read_cid_widths(items: list[Any], font: _Font) -> None:
    """/W: `first [w1 w2 ...]` or `first last w`, repeated."""
    index = 0
    while index + 1 < len(items):
        first = int(_number(items[index]))
        if isinstance(items[index + 1], Array):
            for offset, value in enumerate(items[index + 1]):
                font.widths[first + offset] = _number(value)
            index += 2
        elif index + 2 < len(items):
            last = int(_number(items[index + 1]))
            font.width_ranges.append((first, last, _number(items[index + 2])))
            index += 3
        else:
            break


def _simple_metrics(font_dict: Any, font: _Font, *, subtype: str) -> None:
    """A simple font's encoding and widths (/Widths, /MissingWidth, or the standard 14's)."""
    font.encoding = _simple_encoding(font_dict)
    first_char = int(_number(font_dict.get("/FirstChar"), 0))
    widths = font_dict.get("/Widths")
    if isinstance(widths, Array):
        for offset, value in enumerate(widths):
            font.widths[first_char + offset] = _number(value)
    descriptor = font_dict.get("/FontDescriptor")
    if isinstance(descriptor, Dictionary):
        font.default_width = _number(descriptor.get("/MissingWidth"), 0.0)
    if not isinstance(widths, Array):
        base = str(font_dict.get("/BaseFont", ""))
        font.default_width = next(
            (value for key, value in STANDARD_WIDTHS.items() if key in base), 500.0
        )
    if subtype == "/Type3":
        matrix = font_dict.get("/FontMatrix")
        if isinstance(matrix, Array) and len(matrix) >= 1:
            font.scale = _number(matrix[0], 0.001) * 1000


@dataclass
class _Glyph:
    instruction: int
    element: int  # index of the string in the operator's TJ array (0 for Tj, ' and ")
    position: int  # index of the code within that string
    advance: float  # TJ units (thousandths of text space) the glyph moves the pen


@dataclass
class _State:
    font: _Font | None = None
    size: float = 0.0
    char_spacing: float = 0.0
    word_spacing: float = 0.0


def _strings_of(instruction: Any) -> list[Any]:
    op = str(instruction.operator)
    operands = list(instruction.operands)
    if op == "TJ" and operands and isinstance(operands[0], Array):
        return list(operands[0])
    if op in ("Tj", "'") and operands:
        return [operands[0]]
    if op == '"' and len(operands) == 3:
        return [operands[2]]
    return []


def _rewrite(instruction: Any, removed: dict[tuple[int, int], float], font: _Font) -> list[Any]:
    """A text-showing instruction as a TJ without the removed glyphs, their width kept."""
    op = str(instruction.operator)
    operands = list(instruction.operands)
    before: list[Any] = []
    if op == "'":
        before = [pikepdf.ContentStreamInstruction([], Operator("T*"))]
    elif op == '"':
        before = [
            pikepdf.ContentStreamInstruction([operands[0]], Operator("Tw")),
            pikepdf.ContentStreamInstruction([operands[1]], Operator("Tc")),
            pikepdf.ContentStreamInstruction([], Operator("T*")),
        ]
    items: list[Any] = []
    for element, item in enumerate(_strings_of(instruction)):
        if not isinstance(item, String):
            items.append(item)
            continue
        run = b""
        for position, code in enumerate(font.split(bytes(item))):
            if (element, position) in removed:
                if run:
                    items.append(String(run))
                    run = b""
                # A TJ number moves the pen back by n/1000 of the font size: minus the width.
                items.append(Decimal(-removed[(element, position)]).quantize(Decimal("0.001")))
            else:
                run += code
        if run:
            items.append(String(run))
    return [*before, pikepdf.ContentStreamInstruction([Array(items)], Operator("TJ"))]


@dataclass
class _ShownText:
    """The text a content stream shows, each character tied to the glyph that draws it."""

    text_parts: list[str] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)  # for each character, its glyph's index
    glyphs: list[_Glyph] = field(default_factory=list)

    def add(self, index: int, instruction: Any, font: _Font, state: _State) -> None:
        for element, item in enumerate(_strings_of(instruction)):
            if not isinstance(item, String):
                continue
            for position, code in enumerate(font.split(bytes(item))):
                spacing = state.char_spacing
                if code == b" ":
                    spacing += state.word_spacing
                advance = font.width(code)
                if state.size:
                    advance += spacing * 1000 / state.size
                self.glyphs.append(_Glyph(index, element, position, advance))
                decoded = font.text(code)
                self.text_parts.append(decoded)
                self.owners.extend([len(self.glyphs) - 1] * len(decoded))


class _Redactor:
    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.fonts: dict[tuple[int, int], _Font | None] = {}
        self.done: set[tuple[int, int]] = set()
        self.removed = 0

    def font(self, resources: Any, name: Any) -> _Font | None:
        fonts = resources.get("/Font") if isinstance(resources, Dictionary) else None
        font_dict = fonts.get(name) if isinstance(fonts, Dictionary) else None
        if not isinstance(font_dict, Dictionary):
            return None
        key = font_dict.objgen if font_dict.is_indirect else (id(font_dict), -1)
        if key not in self.fonts:
            self.fonts[key] = _load_font(font_dict)
        return self.fonts[key]

    def stream(self, instructions: list[Any], resources: Any, depth: int) -> list[Any] | None:
        """The instructions without the matched text, or None when nothing matched."""
        shown = _ShownText()
        fonts_at: dict[int, _Font] = {}
        state = _State()
        stack: list[_State] = []
        for index, instruction in enumerate(instructions):
            if isinstance(instruction, pikepdf.ContentStreamInlineImage):
                continue
            state = self._follow(instruction, state, stack, resources, depth)
            font = state.font
            if font is None or not font.decodable:
                continue
            fonts_at[index] = font
            shown.add(index, instruction, font, state)
        marked = self._mark(shown)
        if not marked:
            return None
        by_instruction: dict[int, dict[tuple[int, int], float]] = {}
        for number in marked:
            glyph = shown.glyphs[number]
            by_instruction.setdefault(glyph.instruction, {})[(glyph.element, glyph.position)] = (
                glyph.advance
            )
        result: list[Any] = []
        for index, instruction in enumerate(instructions):
            if index in by_instruction:
                result.extend(_rewrite(instruction, by_instruction[index], fonts_at[index]))
            else:
                result.append(instruction)
        return result

    def _follow(
        self, instruction: Any, state: _State, stack: list[_State], resources: Any, depth: int
    ) -> _State:
        """The text state after this instruction (graphics state saves and restores, font,
        spacing); a form XObject it draws is redacted too."""
        op = str(instruction.operator)
        operands = list(instruction.operands)
        if op == "q":
            stack.append(_State(**vars(state)))
        elif op == "Q" and stack:
            state = stack.pop()
        elif op == "Tf" and len(operands) == 2:
            state.font = self.font(resources, operands[0])
            state.size = _number(operands[1])
        elif op == "Tc" and operands:
            state.char_spacing = _number(operands[0])
        elif op == "Tw" and operands:
            state.word_spacing = _number(operands[0])
        elif op == "Do" and operands and depth < MAX_FORM_DEPTH:
            self.form(resources, operands[0], depth + 1)
        if op == '"' and len(operands) == 3:
            state.word_spacing = _number(operands[0])
            state.char_spacing = _number(operands[1])
        return state

    def _mark(self, shown: _ShownText) -> set[int]:
        """The glyphs of every match of the pattern in the shown text."""
        text = "".join(shown.text_parts)
        marked: set[int] = set()
        for match in self.pattern.finditer(text):
            marked.update(shown.owners[match.start() : match.end()])
            self.removed += 1
        return marked

    def form(self, resources: Any, name: Any, depth: int) -> None:
        xobjects = resources.get("/XObject") if isinstance(resources, Dictionary) else None
        xobject = xobjects.get(name) if isinstance(xobjects, Dictionary) else None
        if not isinstance(xobject, pikepdf.Stream) or xobject.get("/Subtype") != Name.Form:
            return
        if xobject.objgen in self.done:
            return
        self.done.add(xobject.objgen)
        own = xobject.get("/Resources")
        rewritten = self.stream(
            pikepdf.parse_content_stream(xobject),
            own if isinstance(own, Dictionary) else resources,
            depth,
        )
        if rewritten is not None:
            xobject.write(pikepdf.unparse_content_stream(rewritten))


# Parsed in a bounded child process: content streams can inflate to gigabytes.
@pdfguard.guarded(error=DocumentError)
def remove_text(
    data: bytes, pattern: re.Pattern[str], pages: Collection[int] | None = None
) -> tuple[bytes, int]:
    """The PDF without the text matching `pattern`, and how many matches went.

    `pages` (numbered from 1) limits the work to the pages known to hold such text: decoding
    costs about 20 ms per page full of text.
    """
    redactor = _Redactor(pattern)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for number, page in enumerate(pdf.pages, start=1):
            if pages is not None and number not in pages:
                continue
            try:
                instructions = pikepdf.parse_content_stream(page)
                rewritten = redactor.stream(instructions, page.obj.get("/Resources"), 0)
            except (pikepdf.PdfError, ValueError, TypeError) as exc:
                logger.info("could not remove text from a page: %s", exc)
                continue
            if rewritten is not None:
                page.obj.Contents = pdf.make_stream(pikepdf.unparse_content_stream(rewritten))
        if not redactor.removed:
            return data, 0
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
    return out.getvalue(), redactor.removed
