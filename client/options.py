"""How a proxy runs its driver: deadlines, restarts, secrets, environment, chunk and pipe sizes."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from registry_storage.streams import CHUNK_SIZE
from registry_storage.wire.handshake import PROTOCOL_VERSION, Limits

DEFAULT_TIMEOUT = 300.0
"""Seconds every call may take before the proxy cancels it and raises DeadlineExceededError."""

DEFAULT_START_TIMEOUT = 60.0
"""Seconds a driver may take to start and answer the handshake (importing a cloud SDK takes a while)."""

DEFAULT_STOP_TIMEOUT = 5.0
"""Seconds each step of the stop sequence (shutdown, close stdin, SIGTERM) may take before the next one."""

PIPE_BYTES = 1 << 20
"""Size the proxy asks the kernel to give the stdin and stdout pipes (fewer context switches for bulk bytes)."""


@dataclass(frozen=True)
class ProxyOptions:
    """Options of a :class:`~registry_storage.client.ProxyDriver`.

    ``timeout``: the deadline of every call, in seconds. ``start_timeout``: the deadline of the handshake, which
    includes the driver's start-up. ``restart``: start a new child for later calls after one
    died (the call that saw it die still fails). ``secret_parameters``: names to pass through the parameters file
    besides those that look secret (see :mod:`registry_storage.client.parameters`). ``env``: variables added to
    (or, with a None value, removed from) the child's environment. ``stop_timeout``: the timeout of each stop step.
    ``chunk_bytes``: the size of the chunks streams move (capped by the driver's ``max_chunk_bytes``).
    ``pipe_bytes``: the pipe size to ask for (0 keeps the system default). ``protocol_versions``: the versions
    offered in the handshake. ``limits``: the receive limits this side announces (protocol.md section 12).
    """

    timeout: float = DEFAULT_TIMEOUT
    start_timeout: float = DEFAULT_START_TIMEOUT
    restart: bool = False
    secret_parameters: Collection[str] = frozenset()
    env: Mapping[str, str | None] | None = None
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    chunk_bytes: int = CHUNK_SIZE
    pipe_bytes: int = PIPE_BYTES
    protocol_versions: tuple[str, ...] = (PROTOCOL_VERSION,)
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout!r}")
        if not self.start_timeout > 0:
            raise ValueError(f"start_timeout must be positive, got {self.start_timeout!r}")
        if not self.stop_timeout > 0:
            raise ValueError(f"stop_timeout must be positive, got {self.stop_timeout!r}")
        if self.chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be at least 1, got {self.chunk_bytes!r}")
        if not self.protocol_versions:
            raise ValueError("protocol_versions must offer at least one version")
        object.__setattr__(self, "secret_parameters", frozenset(self.secret_parameters))
