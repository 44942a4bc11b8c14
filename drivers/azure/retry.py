"""The SDK's exponential retry with a bound on the total time one driver call spends retrying.

The SDK retries each request on its own, so a call made of several requests (stage, stage, commit) against a dead
service would wait for every request's whole schedule of retries in turn. :class:`BudgetedRetry` charges the time
of every failed attempt and of every backoff to a :class:`RetryBudget`: the one of the driver call in progress (set
with :func:`call_budget` around the call), else a budget of the request alone. Once the budget is spent a failed
request is not retried, so the call ends with its error soon after ``retrytimeout`` seconds of failures.

The clock and the sleep are parameters, so the policy can be checked without waiting.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from azure.storage.blob import ExponentialRetry

Clock = Callable[[], float]


class RetryBudget:
    """Seconds one call may still spend on failed attempts and backoffs; thread-safe (a call stages blocks from
    several threads)."""

    def __init__(self, seconds: float) -> None:
        self._remaining = float(seconds)
        self._lock = threading.Lock()

    @property
    def remaining(self) -> float:
        with self._lock:
            return self._remaining

    def spend(self, seconds: float) -> None:
        with self._lock:
            self._remaining -= max(0.0, seconds)


_CALL_BUDGET: contextvars.ContextVar[RetryBudget | None] = contextvars.ContextVar(
    "registry_storage_azure_retry_budget", default=None
)


@contextlib.contextmanager
def call_budget(seconds: float) -> Generator[RetryBudget, None, None]:
    """Make the requests of the enclosed code share one budget of ``seconds`` (an enclosing budget is kept)."""
    current = _CALL_BUDGET.get()
    if current is not None:
        yield current
        return
    budget = RetryBudget(seconds)
    token = _CALL_BUDGET.set(budget)
    try:
        yield budget
    finally:
        _CALL_BUDGET.reset(token)


class BudgetedRetry(ExponentialRetry):
    """ExponentialRetry that stops retrying once the call's budget of ``retry_timeout`` seconds is spent."""

    def __init__(
        self,
        *,
        retry_timeout: float,
        clock: Clock = time.monotonic,
        sleeper: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retry_timeout = retry_timeout
        self._clock = clock
        self._sleeper = sleeper

    def configure_retries(self, request: Any) -> dict[str, Any]:
        settings: dict[str, Any] = super().configure_retries(request)
        settings["budget"] = _CALL_BUDGET.get() or RetryBudget(self.retry_timeout)
        settings["attempt_started"] = self._clock()
        settings["backoff"] = 0.0
        return settings

    def increment(self, settings: dict[str, Any], request: Any, response: Any = None, error: Any = None) -> bool:
        budget: RetryBudget = settings["budget"]
        budget.spend(self._clock() - settings["attempt_started"])
        if not super().increment(settings, request, response, error):
            return False
        backoff = max(0.0, float(self.get_backoff_time(settings)))
        if budget.remaining <= 0 or backoff >= budget.remaining:
            return False  # waiting and trying again would overrun the budget: give up with this error
        settings["backoff"] = backoff
        return True

    def sleep(self, settings: dict[str, Any], transport: Any) -> None:
        backoff: float = settings["backoff"]
        settings["budget"].spend(backoff)
        if backoff > 0:
            if self._sleeper is not None:
                self._sleeper(backoff)
            else:
                transport.sleep(backoff)
        settings["attempt_started"] = self._clock()


__all__ = ["BudgetedRetry", "RetryBudget", "call_budget"]
