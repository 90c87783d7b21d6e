"""JSON logs to stdout; every line carries `service`, `request_id`, `principal`.

Two moments configure logging in a process:

- before the app exists, uvicorn applies the dict config in `UVICORN_LOG_CONFIG`
  (`sanlun up` passes it as `--log-config`), so its own startup and error lines
  ("Started server process", "Error loading ASGI app") are JSON too. The
  supervisor names the process first (`name_process`), so even those lines
  carry `service`;
- when the app starts serving, `configure_logging` (from its lifespan) sets the
  level and structlog itself.

Both use the same formatter, `json_formatter`.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from pathlib import Path

import structlog
from structlog.typing import EventDict, Processor

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
principal_var: ContextVar[str | None] = ContextVar("principal", default=None)

# A dict config for uvicorn's `--log-config`: stdlib logging (uvicorn's own
# loggers included) through `json_formatter` to stdout.
UVICORN_LOG_CONFIG = Path(__file__).with_name("uvicorn_logging.yaml")

# The process's name in every line; set by `name_process` or `configure_logging`.
_service: str | None = None


def name_process(service: str | None) -> None:
    """The `service` field of every line this process writes from now on."""
    global _service  # noqa: PLW0603 - one name per process, read by every log line
    _service = service


def _add_service(_: object, __: str, event: EventDict) -> EventDict:
    if _service is not None:
        event.setdefault("service", _service)
    return event


def _add_context(_: object, __: str, event: EventDict) -> EventDict:
    event.setdefault("request_id", request_id_var.get())
    event.setdefault("principal", principal_var.get())
    return event


def _shared_processors() -> list[Processor]:
    return [
        _add_service,
        structlog.contextvars.merge_contextvars,
        _add_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def json_formatter() -> logging.Formatter:
    """Render a stdlib log record (uvicorn, alembic, ...) as one JSON line with
    the same fields as structlog's lines. Named by `UVICORN_LOG_CONFIG` (`()`)."""
    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
    )


def configure_logging(service: str, level: str = "INFO") -> None:
    lvl = logging.getLevelName(level.upper())
    if not isinstance(lvl, int):
        lvl = logging.INFO
    name_process(service)
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries that use stdlib logging (uvicorn, alembic) render as JSON too.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(lvl)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The request middleware writes one access line per request; uvicorn's and
    # httpx's per-request lines are redundant, alembic's chatter is noise.
    for name in ("uvicorn.access", "httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
