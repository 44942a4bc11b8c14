"""Progress bars for transfers: bytes done, rate and ETA, drawn on stderr with tqdm.

Bars are drawn only when stderr is a terminal and ``--quiet`` was not given; otherwise every bar is a no-op, so
piped output and logs never see control characters. Bars may be advanced from several threads at once.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import NoReturn

from tqdm import tqdm

DESCRIPTION_WIDTH = 32
FALLBACK_COLUMNS = 80
FALLBACK_ROWS = 24
"""Bar width and height on a terminal that reports no size (a bare pseudo-terminal, a serial console)."""


def _shorten(text: str, width: int = DESCRIPTION_WIDTH) -> str:
    """``text`` cut from the left to ``width`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _terminal_columns() -> int:
    """The width of the terminal on stderr; 0 when it reports none."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


class ByteBar:
    """One progress bar counting bytes; a context manager that removes or finishes the bar on exit."""

    def __init__(self, bar: tqdm[NoReturn] | None) -> None:
        self._bar = bar
        self._lock = threading.Lock()

    def advance(self, count: int) -> None:
        """Count ``count`` more bytes as done."""
        if self._bar is not None and count:
            with self._lock:
                self._bar.update(count)

    def track(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield ``chunks`` unchanged, counting each one as done once the consumer asks for the next."""
        for chunk in chunks:
            yield chunk
            self.advance(len(chunk))

    def note(self, text: str) -> None:
        """Show ``text`` after the bar (for example ``3/10 files``)."""
        if self._bar is not None:
            with self._lock:
                self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        """Finish the bar; closing twice is harmless."""
        if self._bar is not None:
            with self._lock:
                self._bar.close()

    def __enter__(self) -> ByteBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Progress:
    """Makes byte bars, or no-op bars when progress is off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_terminal(cls, quiet: bool) -> Progress:
        """Progress that is on only when stderr is a terminal and ``quiet`` is false."""
        try:
            interactive = sys.stderr.isatty()
        except (AttributeError, ValueError):
            interactive = False
        return cls(interactive and not quiet)

    def bar(self, description: str, total: int | None, initial: int = 0, *, leave: bool = True) -> ByteBar:
        """A bar for ``total`` bytes of which ``initial`` are already done (a resumed file); None: size unknown.

        ``leave`` keeps the finished bar on screen; per-file bars of a many-file transfer pass False.
        """
        if not self.enabled:
            return ByteBar(None)
        sized = _terminal_columns() > 0
        bar: tqdm[NoReturn] = tqdm(
            desc=_shorten(description),
            total=total,
            initial=initial,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=sys.stderr,
            leave=leave,
            dynamic_ncols=sized,
            ncols=None if sized else FALLBACK_COLUMNS,
            nrows=None if sized else FALLBACK_ROWS,
            mininterval=0.1,
        )
        return ByteBar(bar)
