"""The shape of a conformance check: :class:`Check`, the :class:`CheckContext` it runs in, and its options.

A check is a small function that proves one behaviour of the StorageDriver contract (DESIGN.md section 3). It gets a
:class:`CheckContext`: the driver, the run's :class:`ConformanceOptions`, a unique top-level directory to work under
and a pseudo-random generator seeded by the check's name, so every run writes the same distinct bytes. A check fails
by raising (see :mod:`registry_storage.testing.expectations`); :meth:`Check.run` deletes the check's paths whatever
happens.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from registry_storage.driver import StorageDriver
from registry_storage.errors import PathNotFoundError
from registry_storage.testing.expectations import ConformanceFailure, describe_error

MIB = 1 << 20


@dataclass(frozen=True)
class ConformanceOptions:
    """How big the checks' data is: full size (the contract's sizes) or ``quick`` (small, for smoke runs)."""

    quick: bool = False

    @property
    def large_size(self) -> int:
        """Size of the large-object round trips: 64 MiB, 4 MiB when quick."""
        return 4 * MIB if self.quick else 64 * MIB

    @property
    def concurrent_read_size(self) -> int:
        """Size of the object read by concurrent readers: 32 MiB, 4 MiB when quick."""
        return 4 * MIB if self.quick else 32 * MIB

    @property
    def concurrent_write_max(self) -> int:
        """Size of the largest object among the concurrent writers: 16 MiB, 2 MiB when quick."""
        return 2 * MIB if self.quick else 16 * MIB

    @property
    def append_chunk(self) -> int:
        """Size of each chunk appended by the continue-append checks: 10 MiB, 1 MiB when quick."""
        return 1 * MIB if self.quick else 10 * MIB


class CheckContext:
    """What one run of a check works with.

    ``root`` is a top-level directory that no other run uses (``/<check name>-<random token>``); every path the
    check creates lies below it or below a path made with :meth:`top`. ``rng`` is seeded with the check's name.
    """

    def __init__(self, driver: StorageDriver, options: ConformanceOptions, name: str) -> None:
        self.driver = driver
        self.options = options
        self.name = name
        self.root = f"/{name}-{uuid.uuid4().hex[:8]}"
        self.rng = random.Random(name)
        self._tops = [self.root]

    def path(self, *components: str) -> str:
        """``root`` joined with ``components``: ``path("a", "b")`` is ``<root>/a/b``."""
        return "/".join((self.root, *components))

    def top(self, suffix: str) -> str:
        """Another top-level path, ``<root>-<suffix>``, deleted with the check's paths at the end."""
        path = f"{self.root}-{suffix}"
        if path not in self._tops:
            self._tops.append(path)
        return path

    def data(self, size: int) -> bytes:
        """``size`` pseudo-random bytes, different from every earlier call in this check."""
        return self.rng.randbytes(size)

    def chunks(self, count: int, size: int) -> list[bytes]:
        """``count`` distinct chunks of ``size`` pseudo-random bytes each."""
        return [self.data(size) for _ in range(count)]

    def clean_up(self, *, quietly: bool) -> None:
        """Delete every top-level path of this check that still exists.

        A failure to delete raises ConformanceFailure, unless ``quietly`` (the check already failed: its own error is
        the one to report).
        """
        for path in reversed(self._tops):
            try:
                self.driver.delete(path)
            except PathNotFoundError:
                pass
            except Exception as error:
                if not quietly:
                    raise ConformanceFailure(f"cleaning up: delete({path!r}) raised {describe_error(error)}") from error


CheckFunction = Callable[[CheckContext], None]
"""The body of a check: returns when the driver behaved, raises when it did not."""


@dataclass(frozen=True)
class Check:
    """One behaviour of the contract, proved against a driver by :meth:`run`.

    ``name`` is unique and says what the check proves; ``theme`` groups checks (content, streams, tree, ...);
    ``description`` is the function's docstring.
    """

    name: str
    theme: str
    function: CheckFunction = field(repr=False, compare=False)
    description: str = ""

    def run(self, driver: StorageDriver, options: ConformanceOptions | None = None) -> None:
        """Run the check against ``driver``; return when it passed, raise when it failed.

        A broken contract raises :class:`~registry_storage.testing.expectations.ConformanceFailure` (an
        AssertionError) saying what was expected and what came back; anything else the driver raised unexpectedly
        propagates as it is. The check's paths are deleted afterwards in every case.
        """
        context = CheckContext(driver, options or ConformanceOptions(), self.name)
        try:
            self.function(context)
        except BaseException:
            context.clean_up(quietly=True)
            raise
        context.clean_up(quietly=False)


class CheckGroup:
    """The checks of one theme, in definition order; used as a decorator: ``@group.check``."""

    def __init__(self, theme: str) -> None:
        self.theme = theme
        self.checks: list[Check] = []

    def check(self, function: CheckFunction) -> CheckFunction:
        """Register ``function`` as a check named after it; return it unchanged."""
        self.add(function.__name__, function)
        return function

    def add(self, name: str, function: CheckFunction, description: str | None = None) -> Check:
        """Register ``function`` as the check ``name`` (for checks made from a table); return the Check."""
        if any(existing.name == name for existing in self.checks):
            raise ValueError(f"check {name!r} is defined twice in theme {self.theme!r}")
        text = description if description is not None else (function.__doc__ or "")
        created = Check(name=name, theme=self.theme, function=function, description=" ".join(text.split()))
        self.checks.append(created)
        return created


def collect(*groups: CheckGroup) -> list[Check]:
    """Every check of ``groups`` in order; raises ValueError when two checks share a name."""
    result: list[Check] = []
    seen: set[str] = set()
    for group in groups:
        for item in group.checks:
            if item.name in seen:
                raise ValueError(f"two checks are named {item.name!r}")
            seen.add(item.name)
            result.append(item)
    return result
