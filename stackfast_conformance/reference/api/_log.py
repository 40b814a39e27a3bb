"""One-line log records to stderr and, when configured, to LOG_FILE.

Lines carry the bare message (no timestamp prefix) so that checks reading the
log can match them exactly, e.g. ``[rate-limit] upstash unavailable: <why>``.
"""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "stackfast.reference.api"


def configure_logging(log_file: str) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    formatter = logging.Formatter("%(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger


def one_line(text: object) -> str:
    """Collapse a message (e.g. an exception text) onto a single line."""
    return " ".join(str(text).split()) or type(text).__name__
