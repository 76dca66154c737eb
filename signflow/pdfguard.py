"""Parse a stranger's PDF in a child process that cannot take the web worker down with it.

A 1 MB PDF can hold a page whose content inflates to gigabytes; pdfium (text, renders) and
pypdf decompress whatever they are given. Every such parse on a request path goes through
`run` (or a function decorated with `@guarded`): the function runs in a process forked from a
fork server that already imported Django, pypdf and pdfium, with

- RLIMIT_AS = SIGNFLOW_PDF_PARSE_MAX_MB (pdfium aborts, Python raises MemoryError past it),
- RLIMIT_CPU and a wall-clock timeout of SIGNFLOW_PDF_PARSE_SECONDS,
- pypdf's own decompression limits lowered to SIGNFLOW_PDF_STREAM_MAX_MB per stream,

and returns the function's result, re-raises the exception it raised (a DocumentError stays a
DocumentError), or raises `PdfTooComplex` (`PdfOutOfMemory` / `PdfTooSlow`) when a limit hit.
`PdfUnreadable` is raised when the child died for another reason.

The child gets the caller's active language and the SIGNFLOW_* settings as they are at call time
(tests change them), so messages and limits are the caller's. Arguments and results
travel pickled; a file object argument is handed over as a path (the upload's temporary file
when there is one, else a temporary copy), never read into the worker's memory.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import mmap
import multiprocessing
import os
import re
import resource
import shutil
import signal
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, ParamSpec, TypeVar, cast, overload

from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Imported once by the fork server, so each child starts with them loaded (a fork, no import).
# "__main__" (gunicorn's, celery's, manage.py: all guarded by `if __name__ == "__main__"`) is
# loaded there once too, or multiprocessing would run the main script again in every child.
PRELOAD = ["__main__", "signflow.pdfguard_boot"]
# Bytes arguments larger than this go to the child through a temporary file, not the pipe.
_INLINE_BYTES = 1024 * 1024
# Settings the child takes from the caller at call time (besides SIGNFLOW_*). Not the storage:
# a child parses the bytes or the temporary file it is handed, it never opens a stored file.
FORWARDED_SETTINGS = ("LANGUAGE_CODE",)

_in_child = False
_context: Any = None
_context_lock = threading.Lock()


class PdfGuardError(Exception):
    """A PDF could not be parsed within the limits. `.code` is stable, `.message` translated."""

    code = "too_complex"
    default_message = _(
        "This PDF could not be analysed within our limits (memory and time): it is too complex "
        "or built to exhaust the server. Export it again from the original application."
    )

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail

    @property
    def message(self) -> str:
        return str(self.default_message)


class PdfTooComplex(PdfGuardError):
    """A limit was hit: memory or time."""


class PdfOutOfMemory(PdfTooComplex):
    pass


class PdfTooSlow(PdfTooComplex):
    pass


class PdfUnreadable(PdfGuardError):
    """The parsing process died without an answer (a crash of the PDF library)."""

    code = "not_pdf"
    default_message = _("This file is not a readable PDF.")


class _FileArg:
    """A file argument handed to the child as a path: opened read-only, or read whole when the
    caller passed bytes (a 20 MB upload written once instead of pickled through a pipe)."""

    def __init__(self, path: str, *, as_bytes: bool = False) -> None:
        self.path = path
        self.as_bytes = as_bytes


def _limits() -> tuple[int, int, int]:
    from django.conf import settings

    return (
        int(settings.SIGNFLOW_PDF_PARSE_MAX_MB),
        int(settings.SIGNFLOW_PDF_PARSE_SECONDS),
        int(settings.SIGNFLOW_PDF_STREAM_MAX_MB),
    )


def _get_context() -> Any:
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


def prestart() -> None:
    """Start the fork server now (web process start-up) rather than on the first upload.

    Returns at once: the server imports its modules in the background.
    """
    from multiprocessing import forkserver

    _get_context()
    try:
        forkserver.ensure_running()
    except Exception:  # the first `run` tries again and reports the error
        logger.exception("Could not start the PDF parsing fork server")


def _settings_snapshot() -> dict[str, Any]:
    from django.conf import settings

    names = [name for name in dir(settings) if name.startswith("SIGNFLOW_")]
    return {name: getattr(settings, name) for name in (*names, *FORWARDED_SETTINGS)}


@contextlib.contextmanager
def _file_args(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The arguments with file objects replaced by paths; temporary copies removed after."""
    copies: list[str] = []

    def convert(value: Any) -> Any:
        if isinstance(value, bytes) and len(value) > _INLINE_BYTES:
            handle, copy = tempfile.mkstemp(prefix="signflow-pdf-", suffix=".pdf")
            copies.append(copy)
            with os.fdopen(handle, "wb") as out:
                out.write(value)
            return _FileArg(copy, as_bytes=True)
        if not (hasattr(value, "read") and hasattr(value, "seek")):
            return value
        path = getattr(value, "temporary_file_path", None)
        if callable(path):  # Django's upload on disk: the child reads that very file
            return _FileArg(str(path()))
        handle, copy = tempfile.mkstemp(prefix="signflow-pdf-", suffix=".pdf")
        copies.append(copy)
        value.seek(0)
        with os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(value, out, 1024 * 1024)
        value.seek(0)
        return _FileArg(copy)

    try:
        yield (
            tuple(convert(value) for value in args),
            {key: convert(value) for key, value in kwargs.items()},
        )
    finally:
        for copy in copies:
            with contextlib.suppress(OSError):
                os.unlink(copy)


def run(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """func(*args, **kwargs) in a limited child process; see the module docstring."""
    if _in_child:
        return func(*args, **kwargs)
    from django.utils import translation

    target = getattr(func, "__pdfguard_inner__", func)
    with _file_args(args, kwargs) as (child_args, child_kwargs):
        return cast(
            T,
            _run_child(
                reference=(target.__module__, target.__qualname__),
                args=child_args,
                kwargs=child_kwargs,
                limits=_limits(),
                language=translation.get_language(),
                settings_values=_settings_snapshot(),
            ),
        )


def _run_child(
    *,
    reference: tuple[str, str],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    limits: tuple[int, int, int],
    language: str | None,
    settings_values: dict[str, Any],
) -> Any:
    context = _get_context()
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(
        target=_child_main,
        args=(writer, reference, args, kwargs, limits, language, settings_values),
        daemon=True,
    )
    started = time.monotonic()
    process.start()
    writer.close()
    seconds = limits[1]
    try:
        if not reader.poll(seconds):
            process.kill()
            process.join()
            logger.warning("PDF parse %s.%s took over %ss", *reference, seconds)
            raise PdfTooSlow(f"over {seconds}s")
        try:
            status, payload = reader.recv()
        except EOFError:
            status, payload = "died", None
    finally:
        reader.close()
    process.join(5)
    if process.exitcode is None:
        process.kill()
        process.join()
    elapsed = time.monotonic() - started
    if status == "ok":
        return payload
    if status == "raised":
        raise payload
    if status == "oom":
        logger.warning("PDF parse %s.%s ran out of memory (%.2fs)", *reference, elapsed)
        raise PdfOutOfMemory(f"over {limits[0]} MB")
    # Died without an answer: a signal. Out of CPU time is "too slow"; pdfium aborts when an
    # allocation fails, which under RLIMIT_AS means the memory limit.
    code = process.exitcode or 0
    logger.warning("PDF parse %s.%s died (exit code %s) after %.2fs", *reference, code, elapsed)
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        raise PdfTooSlow(f"CPU limit ({seconds}s)")
    if code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS, -signal.SIGTRAP):
        raise PdfOutOfMemory(f"over {limits[0]} MB (signal {-code})")
    raise PdfUnreadable(f"exit code {code}")


def _child_main(
    conn: Any,
    reference: tuple[str, str],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    limits: tuple[int, int, int],
    language: str | None,
    settings_values: dict[str, Any],
) -> None:
    global _in_child
    _in_child = True
    max_mb, seconds, stream_mb = limits
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (max_mb << 20, max_mb << 20))
    try:
        result = ("ok", _call(reference, args, kwargs, stream_mb, language, settings_values))
    except MemoryError:
        result = ("oom", None)
    except BaseException as exc:  # handed to the caller, which re-raises it
        result = ("raised", exc)
    try:
        conn.send(result)
    except MemoryError:
        conn.send(("oom", None))
    except Exception as exc:  # an exception or result that does not pickle
        conn.send(("raised", PdfUnreadable(f"{type(exc).__name__}: {exc}")))
    conn.close()


def _call(
    reference: tuple[str, str],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    stream_mb: int,
    language: str | None,
    settings_values: dict[str, Any],
) -> Any:
    from django.conf import settings
    from django.utils import translation
    from pypdf import overwrite_configuration

    for name, value in settings_values.items():
        setattr(settings, name, value)
    limit = stream_mb << 20
    overwrite_configuration(
        maximum_declared_stream_length=limit,
        array_based_stream_maximum_output_length=limit,
        jbig2_maximum_output_length=limit,
        lzw_maximum_output_length=limit,
        run_length_maximum_output_length=limit,
        zlib_maximum_output_length=limit,
        brotli_maximum_output_length=limit,
        image_maximum_buffer_size=limit,
        stream_decoding_work_maximum_length=4 * limit,
    )
    for value in (*args, *kwargs.values()):
        _check_inflation(value, stream_mb << 20)
    module_name, qualname = reference
    func: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        func = getattr(func, part)
    func = getattr(func, "__pdfguard_inner__", func)
    opened: list[IO[bytes]] = []

    def open_arg(value: Any) -> Any:
        if isinstance(value, _FileArg) and value.as_bytes:
            with open(value.path, "rb") as source:
                return source.read()
        if isinstance(value, _FileArg):
            handle = open(value.path, "rb")  # noqa: SIM115 (closed below)
            opened.append(handle)
            return handle
        return value

    try:
        call_args = [open_arg(value) for value in args]
        call_kwargs = {key: open_arg(value) for key, value in kwargs.items()}
        if language:
            translation.activate(language)
        return func(*call_args, **call_kwargs)
    finally:
        for handle in opened:
            handle.close()


# Where a stream's data starts ("endstream" matches too: its "data" is no zlib, skipped at once).
_STREAM_START = re.compile(rb"stream\r?\n")
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_DICT_LOOKBACK = 4096
_INFLATE_IN = 64 * 1024
_INFLATE_OUT = 8 * 1024 * 1024


def _check_inflation(value: Any, limit: int) -> None:
    """PdfTooComplex if one zlib stream of a PDF argument inflates past `limit` bytes.

    Every stream of the file is inflated once, in small steps, and the output thrown away:
    a bomb is found after `limit` bytes (a fraction of a second, a few MB of memory) instead
    of by pdfium allocating gigabytes until RLIMIT_AS stops it.
    """
    if isinstance(value, _FileArg):
        with open(value.path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                _check_inflation(mapped, limit)
        return
    if not isinstance(value, bytes | bytearray | memoryview | mmap.mmap):
        return
    if b"%PDF-" not in value[:1024]:
        return
    with memoryview(value) as view:
        _check_streams(value, view, limit)


def _check_streams(value: Any, view: memoryview, limit: int) -> None:
    size = len(view)
    for match in _STREAM_START.finditer(value):
        # Images may inflate to the limit (a 600 dpi RGB A4 scan is 104 MB); page contents,
        # fonts and the rest to a quarter of it: the usual bomb is a page content stream, and
        # stopping it earlier answers sooner. A forged /Subtype only gets the larger limit.
        head = bytes(view[max(0, match.start() - _DICT_LOOKBACK) : match.start()])
        head = head[head.rfind(b" obj") + 1 :]
        stream_limit = limit if _IMAGE.search(head) else limit // 4
        inflater = zlib.decompressobj()
        produced = 0
        position = match.end()
        try:
            while not inflater.eof and position < size:
                produced += len(
                    inflater.decompress(view[position : position + _INFLATE_IN], _INFLATE_OUT)
                )
                position += _INFLATE_IN
                while inflater.unconsumed_tail and not inflater.eof and produced <= stream_limit:
                    produced += len(inflater.decompress(inflater.unconsumed_tail, _INFLATE_OUT))
                if produced > stream_limit:
                    raise PdfTooComplex(f"a stream inflates past {stream_limit >> 20} MB")
        except zlib.error:
            continue


@overload
def guarded(func: Callable[P, T], /) -> Callable[P, T]: ...


@overload
def guarded(*, error: Callable[[str], Exception]) -> Callable[[Callable[P, T]], Callable[P, T]]: ...


def guarded(func: Any = None, /, *, error: Callable[[str], Exception] | None = None) -> Any:
    """Make every call of `func` (a module-level function) go through `run`.

    With `error`, a limit hit is raised as `error(translated message)` instead (an app's own
    error for people, such as DocumentError), chained to the PdfGuardError.
    """

    def decorate(inner: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(inner)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            if _in_child:
                return inner(*args, **kwargs)
            try:
                return run(inner, *args, **kwargs)
            except PdfGuardError as exc:
                if error is None:
                    raise
                raise error(exc.message) from exc

        wrapper.__pdfguard_inner__ = inner  # type: ignore[attr-defined]
        return wrapper

    return decorate(func) if func is not None else decorate
