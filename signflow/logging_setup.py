"""Structured logs: one JSON object per line, with the request id, and no secret in any of them.

Every record, ours (structlog) or a library's (stdlib logging: Django, Celery, gunicorn), goes
through the same chain: context variables (request_id, user_id, ip bound by django-structlog's
middleware; task_id and the queuing request's request_id in a Celery task), redaction, then one
renderer. Redaction is the last step before rendering, so it also covers tracebacks.

What redaction removes, wherever it appears in a string value:
- the token of a signer link: `/s/<token>/...` paths, and any 43-character URL-safe base64 run
  (a link token's shape: 32 bytes, unpadded);
- six-digit numbers (a signing code; an id or amount with exactly six digits is masked too);
- the value of any key that names a secret (password, token, secret, authorization, cookie...).
"""

import logging
import re
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import structlog
from structlog.types import EventDict, Processor

REDACTED = "[redacted]"
_SIGNER_PATH = re.compile(r"/s/[^/\s?#\"']+")
_LINK_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
_CODE = re.compile(r"\b\d{6}\b")
_SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|otp|api_?key|csrf|session", re.I
)
# Values we write ourselves and that hold no secret (ids, the time): kept as they are, so a
# UUID or the microseconds of a timestamp are never mistaken for a code.
_SAFE_KEYS = frozenset(
    {"timestamp", "request_id", "correlation_id", "task_id", "child_task_id", "parent_task_id"}
)


def redact_text(text: str) -> str:
    text = _SIGNER_PATH.sub("/s/" + REDACTED, text)
    text = _LINK_TOKEN.sub(REDACTED, text)
    return _CODE.sub("******", text)


def _redact(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 5:
        return value
    if isinstance(value, Mapping):
        return {key: _redact_item(key, item, depth) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, depth + 1) for item in value]
    return value


def _redact_item(key: Any, item: Any, depth: int) -> Any:
    if key in _SAFE_KEYS:
        return item
    if isinstance(key, str) and _SECRET_KEYS.search(key):
        return REDACTED
    return _redact(item, depth + 1)


def redact(_logger: Any, _method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: masks link tokens, codes and secret-named values (see above)."""
    redacted = _redact(dict(event_dict))
    assert isinstance(redacted, dict)
    return redacted


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_structlog() -> None:
    """structlog hands its events to stdlib logging, whose formatter (below) renders them."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _renderer(fmt: str) -> Processor:
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(colors=False)
    return structlog.processors.JSONRenderer()


def _formatter(fmt: str) -> dict[str, Any]:
    final: list[Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        redact,
        _renderer(fmt),
    ]
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": final,
        "foreign_pre_chain": _shared_processors(),
    }


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """Django's LOGGING: every record to stderr through the JSON (or console) formatter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": _formatter(fmt)},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Each log line of the app goes to the root handler once.
            "django": {"handlers": [], "propagate": True},
            "django.server": {"handlers": [], "propagate": True},
            "celery": {"handlers": [], "propagate": True},
            "fontTools": {"level": "WARNING"},
            "weasyprint": {"level": "ERROR"},
            "pyhanko": {"level": "WARNING"},
            "pikepdf": {"level": "WARNING"},
        },
    }


def capture_handler(sink: Callable[[str], None], fmt: str = "json") -> logging.Handler:
    """A handler that formats like production and hands each line to `sink` (tests, benches)."""

    class _Sink(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sink(self.format(record))

    handler = _Sink()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(**_without_factory(_formatter(fmt))))
    return handler


def _without_factory(config: MutableMapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key != "()"}
