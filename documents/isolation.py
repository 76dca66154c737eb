"""Run one render in a forked child process with kernel limits on its CPU time and memory.

A template written in the browser goes through Django's template engine and WeasyPrint; the
sandbox (documents.sandbox) stops the usual bombs itself with a clear message, and this is the
backstop for what it cannot see (a layout that makes WeasyPrint work for minutes, a filter that
allocates gigabytes): the child gets RLIMIT_CPU and RLIMIT_AS, the parent a wall-clock deadline,
and whatever happens the web worker only waits, then answers.

`fork` rather than a fresh interpreter: the child inherits the imported modules and WeasyPrint's
warm font caches, so an invoice costs a few milliseconds more, not a second. The child only
computes: it never touches the database connections it inherits, and leaves with `os._exit`
(no atexit handlers, no finalizers closing the parent's sockets).
"""

import gc
import logging
import os
import pickle
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any, Literal, NoReturn, TypeVar, cast

logger = logging.getLogger(__name__)

T = TypeVar("T")
Reason = Literal["cpu", "memory", "timeout", "crashed"]


class LimitExceeded(Exception):
    """The child went over a limit or died; `reason` says which."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _address_space_now() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit_child(*, cpu_seconds: int, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # The soft limit sends SIGXCPU (terminates: default action), the hard one SIGKILL a second
    # later in case the signal is caught or ignored.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    if memory_bytes:
        # The child starts as a copy of the parent: the limit is what it may add.
        limit = _address_space_now() + memory_bytes
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    for number in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT):
        signal.signal(number, signal.SIG_DFL)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def run_limited(
    func: Callable[[], T], *, cpu_seconds: int, memory_bytes: int, wall_seconds: float
) -> T:
    """func() computed in a child process; its exception is re-raised here when it can be
    pickled (DocumentError can), else LimitExceeded("crashed")."""
    if not hasattr(os, "fork"):  # pragma: no cover - SignFlow runs on Linux
        return func()
    read_fd, write_fd = os.pipe()
    # Objects the child inherits stay out of its garbage collector's walks: touching them
    # would copy most of the parent's memory page by page (copy-on-write).
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the child: compute, report, leave; never return into the caller's code
        _child(func, read_fd, write_fd, cpu_seconds=cpu_seconds, memory_bytes=memory_bytes)
    gc.unfreeze()
    os.close(write_fd)
    data, status, killed = _collect(pid, read_fd, wall_seconds)
    if killed:
        raise LimitExceeded("timeout")
    return cast(T, _outcome(data, status))  # unpickled: the child returned func()'s T


def _child(
    func: Callable[[], Any], read_fd: int, write_fd: int, *, cpu_seconds: int, memory_bytes: int
) -> NoReturn:
    code = 0
    try:
        os.close(read_fd)
        _limit_child(cpu_seconds=cpu_seconds, memory_bytes=memory_bytes)
        _write_all(write_fd, _pickled_outcome(func))
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _pickled_outcome(func: Callable[[], Any]) -> bytes:
    """("ok", value), ("raise", exception), ("memory", None) or ("crashed", traceback)."""
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", func())
    except MemoryError:
        outcome = ("memory", None)
    except Exception as exc:
        try:
            pickle.dumps(exc)
            outcome = ("raise", exc)
        except Exception:
            outcome = ("crashed", traceback.format_exc()[-2000:])
    try:
        return pickle.dumps(outcome)
    except MemoryError:
        return pickle.dumps(("memory", None))


def _collect(pid: int, read_fd: int, wall_seconds: float) -> tuple[bytes, int, bool]:
    """What the child wrote, its wait status, and whether it was killed at the wall deadline."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + wall_seconds
    killed = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            ready, _w, _x = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        try:
            _pid, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by someone else's SIGCHLD handler
            status = 0
    return b"".join(chunks), status, killed


def _outcome(data: bytes, status: int) -> Any:
    """The child's value, or its exception (or LimitExceeded) raised here."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number in (signal.SIGXCPU, signal.SIGKILL):
            raise LimitExceeded("cpu")
        raise LimitExceeded("crashed", f"signal {number}")
    if not data:
        raise LimitExceeded("crashed", f"exit status {os.WEXITSTATUS(status)}")
    kind, value = pickle.loads(data)  # noqa: S301 - our own child wrote it, through a pipe
    if kind == "ok":
        return value
    if kind == "raise":
        raise value
    if kind == "memory":
        raise LimitExceeded("memory")
    logger.error("A render crashed in its child process: %s", value)
    raise LimitExceeded("crashed", str(value)[:300])
