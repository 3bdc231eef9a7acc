"""A small text progress bar (standard library only) for the demo.

On a terminal it redraws one line in place (at most ten times a second); elsewhere (a pipe, CI,
``make test`` capturing output) it prints a plain line each time another tenth is done, so logs
stay short and readable.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["ProgressBar", "format_duration"]


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m{rest:02d}s"


class ProgressBar:
    """``bar = ProgressBar(total, "label"); bar.update(done, "detail"); bar.close("final detail")``."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 30,
                 interactive: bool | None = None, clock=time.monotonic) -> None:
        self.total = max(1, int(total))
        self.label = label
        self.stream = stream or sys.stdout
        self.width = width
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.clock = clock
        self.started = clock()
        self._lock = threading.Lock()
        self._last_draw = -1.0
        self._last_tenth = -1
        self._done = 0
        self._detail = ""
        self._closed = False
        self._line_len = 0
        self._printed_done = -1

    def render(self, done: int, detail: str = "") -> str:
        done = max(0, min(int(done), self.total))
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = format_duration(self.clock() - self.started)
        text = f"  {self.label} [{bar}] {done}/{self.total}"
        if detail:
            text += f" | {detail}"
        return f"{text} | {elapsed}"

    def update(self, done: int, detail: str = "", force: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._done, self._detail = done, detail
            now = self.clock()
            if self.interactive:
                if force or now - self._last_draw >= 0.1:
                    self._last_draw = now
                    self._draw(self.render(done, detail))
            else:
                tenth = int(10 * min(done, self.total) / self.total)
                if tenth > self._last_tenth:
                    self._last_tenth = tenth
                    self._printed_done = done
                    self.stream.write(self.render(done, detail) + "\n")
                    self.stream.flush()

    def _draw(self, line: str) -> None:
        pad = max(0, self._line_len - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._line_len = len(line)

    def close(self, detail: str | None = None, done: int | None = None) -> None:
        """Draw the final state once and end the line."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            final_done = self._done if done is None else done
            line = self.render(final_done, self._detail if detail is None else detail)
            if self.interactive:
                self._draw(line)
                self.stream.write("\n")
            elif final_done != self._printed_done or detail is not None:
                self.stream.write(line + "\n")
            self.stream.flush()
