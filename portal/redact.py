"""Keep one-time link tokens out of the server's access log.

Survey, invite and password-reset links carry their token in the path (it is the
credential: the patient follows a link from a message). uvicorn logs every request
path; this filter rewrites those paths before the line is written, so a log file never
holds a usable link.
"""

from __future__ import annotations

import logging
import re

ONE_TIME_PATH = re.compile(r"^(/portal/(?:survey|invite|reset))/(?!thanks(?:$|\?))[^/?#]+")
ACCESS_LOGGER = "uvicorn.access"


def redact_path(path: str) -> str:
    return ONE_TIME_PATH.sub(r"\1/[redacted]", path)


class RedactOneTimeLinks(logging.Filter):
    """uvicorn's access record args are (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once (the app may be built many times)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactOneTimeLinks) for f in logger.filters):
        logger.addFilter(RedactOneTimeLinks())
