"""FileInfo: what ``stat`` and ``walk`` report about one path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class FileInfo:
    """Facts about one path.

    ``path`` is the path as given; ``size`` the content length in bytes (0 for a directory); ``mod_time`` the last
    modification as a timezone-aware UTC datetime; ``is_dir`` true for a directory, that is a path with something
    below it.
    """

    path: str
    size: int
    mod_time: datetime
    is_dir: bool

    def __post_init__(self) -> None:
        if self.mod_time.tzinfo is timezone.utc:  # the common case, decided without a call
            return
        if self.mod_time.tzinfo is None:
            raise ValueError("FileInfo.mod_time must be timezone-aware")
        if self.mod_time.utcoffset() != timezone.utc.utcoffset(None):
            object.__setattr__(self, "mod_time", self.mod_time.astimezone(timezone.utc))


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""The modification time reported for directories whose backend keeps none."""
