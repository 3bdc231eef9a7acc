"""What every subcommand shares for its output: the status order, the error type, the progress line."""

from __future__ import annotations

from typing import Any, Callable, TextIO

STATUS_ORDER = ["CREATED", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED"]


CHARGED = {"CREATED", "QUEUED", "RUNNING", "COMPLETED"}


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


class Progress:
    """A one-line progress bar on stderr (only on a terminal, or when asked with --progress)."""

    def __init__(self, label: str, stream: TextIO, enabled: bool):
        self.label, self.stream, self.enabled, self.count = label, stream, enabled, 0
        self.drawn = False

    def advance(self, n: int) -> None:
        self.count += n
        if self.enabled:
            self.drawn = True
            filled = min(30, self.count // 100 + 1)
            bar = "#" * filled + "." * (30 - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.count} tasks")
            self.stream.flush()

    def done(self) -> None:
        if self.drawn:  # nothing drawn (the first page failed): no empty line
            self.drawn = False
            self.stream.write("\n")
            self.stream.flush()


def _parse(fn: Callable[[], Any], message: str) -> Any:
    try:
        return fn()
    except ValueError:
        raise CliError(message) from None
