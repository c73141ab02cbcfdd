"""Capture log lines as production writes them: settings' JSON formatter and filters."""

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.utils.module_loading import import_string

from ccm.logs import logging_config


def json_handler(stream) -> logging.Handler:
    """Return a handler built as LOG_FORMAT=json builds the console handler."""
    config = logging_config(log_format="json", level="DEBUG")
    spec = config["handlers"]["console"]
    handler = logging.StreamHandler(stream)
    handler.setFormatter(import_string(config["formatters"][spec["formatter"]]["()"])())
    for name in spec["filters"]:
        handler.addFilter(import_string(config["filters"][name]["()"])())
    return handler


class Lines(list):
    """The captured lines, as text; `records()` parses them."""

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self]


@contextmanager
def json_lines(level: int = logging.DEBUG) -> Iterator[Lines]:
    """Capture every record at `level` and above, formatted as JSON lines."""
    stream = io.StringIO()
    handler = json_handler(stream)
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(level)
    lines = Lines()
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(before)
        lines.extend(line for line in stream.getvalue().splitlines() if line)
