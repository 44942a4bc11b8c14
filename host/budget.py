"""A budget of bytes shared by the requests in flight: the reader takes a request's share before routing it and
waits while the budget is spent, which pushes back on the client; the share comes back once it is answered."""

from __future__ import annotations

import threading


class ByteBudget:
    """At most ``limit`` bytes taken at once, except that a single taker may always take any amount.

    The exception keeps one request of any admitted size (up to ``max_attachment_bytes``) servable, so the bytes held
    never exceed ``max(limit, largest request)``. :meth:`close` ends every wait (for the end of the session).
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a byte budget needs a positive limit, not {limit}")
        self.limit = limit
        self._taken = 0
        self._changed = threading.Condition(threading.Lock())
        self._closed = False

    @property
    def taken(self) -> int:
        """The bytes taken and not yet given back."""
        with self._changed:
            return self._taken

    def take(self, count: int) -> None:
        """Take ``count`` bytes, waiting until they fit (or nothing else is taken, or the budget is closed)."""
        if count <= 0:
            return
        with self._changed:
            while self._taken and self._taken + count > self.limit and not self._closed:
                self._changed.wait()
            self._taken += count

    def give(self, count: int) -> None:
        """Give back ``count`` bytes taken before."""
        if count <= 0:
            return
        with self._changed:
            self._taken -= count
            self._changed.notify_all()

    def close(self) -> None:
        """Let every present and future :meth:`take` return at once."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


__all__ = ["ByteBudget"]
