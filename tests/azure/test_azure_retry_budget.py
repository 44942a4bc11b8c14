"""The bound on the time one Azure driver call spends retrying (``retrytimeout``), and which error a failed write
raises: the retry policy against a simulated clock, then the driver against an Azurite that dies mid-write."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.rest import HttpRequest

import registry_storage
from registry_storage.drivers.azure.parameters import AzureSettings
from registry_storage.drivers.azure.retry import BudgetedRetry, call_budget
from registry_storage.errors import InvalidParameterError, StorageDriverError
from registry_storage.testing import servers

KIB = 1024


class SimulatedDeadService:
    """The next pipeline policy: every request fails after ``attempt_seconds`` of the simulated clock."""

    def __init__(self, clock: list[float], attempt_seconds: float = 0.5) -> None:
        self.clock = clock
        self.attempt_seconds = attempt_seconds
        self.attempts: list[float] = []

    def send(self, request: Any) -> Any:
        self.attempts.append(self.clock[0])
        self.clock[0] += self.attempt_seconds
        raise ServiceRequestError(f"connection refused (attempt {len(self.attempts)})")


def policy(clock: list[float], retry_timeout: float, retries: int = 5) -> tuple[BudgetedRetry, SimulatedDeadService]:
    def sleep(seconds: float) -> None:
        clock[0] += seconds

    retry = BudgetedRetry(
        retry_timeout=retry_timeout,
        clock=lambda: clock[0],
        sleeper=sleep,
        initial_backoff=1,
        increment_base=2,
        retry_total=retries,
        random_jitter_range=0,  # the simulated schedule is exact: waits of 1, 3, 9, 27, 81 s
    )
    service = SimulatedDeadService(clock)
    retry.next = cast(Any, service)
    return retry, service


def send(retry: BudgetedRetry) -> None:
    """One PUT through the policy (to the simulated service, which always fails)."""
    request = PipelineRequest(HttpRequest("PUT", "http://127.0.0.1:9/account/container/blob"), PipelineContext(None))
    retry.send(request)  # type: ignore[no-untyped-call] # the SDK's policies are untyped


def test_one_request_retries_within_the_budget_and_raises_its_own_error() -> None:
    clock = [0.0]
    retry, service = policy(clock, retry_timeout=10)
    with pytest.raises(ServiceRequestError, match=r"attempt 3\)"):
        send(retry)
    # 1 + 3 + 9 + 27 + 81 s of backoff without the budget; within it, retried while the next wait still fits
    assert len(service.attempts) == 3
    assert clock[0] <= 10


def test_requests_of_one_call_share_one_budget() -> None:
    clock = [0.0]
    retry, service = policy(clock, retry_timeout=10)
    with call_budget(10):
        for _ in range(3):
            with pytest.raises(ServiceRequestError):
                send(retry)
    assert clock[0] <= 10 + 3 * service.attempt_seconds  # the budget, plus the one attempt each later request makes
    assert len(service.attempts) <= 5


def test_a_zero_budget_makes_one_attempt() -> None:
    clock = [0.0]
    retry, service = policy(clock, retry_timeout=0)
    with pytest.raises(ServiceRequestError):
        send(retry)
    assert len(service.attempts) == 1


def test_retrytimeout_is_a_parameter_with_a_default() -> None:
    given = {"accountname": "a", "accountkey": "a2V5", "container": "abc"}
    assert AzureSettings.from_parameters(given).retrytimeout == 10
    assert AzureSettings.from_parameters({**given, "retrytimeout": "3"}).retrytimeout == 3
    with pytest.raises(InvalidParameterError, match="retrytimeout"):
        AzureSettings.from_parameters({**given, "retrytimeout": -1})


def test_a_service_dying_mid_write_raises_the_first_failure() -> None:
    with servers.azurite() as service:  # one of its own, since the test kills it
        parameters = service.parameters(f"test-{uuid.uuid4().hex[:16]}", blocksize=64 * KIB, retrytimeout=2)
        driver = registry_storage.create("azure", parameters)
        try:
            driver.put_content("/before", b"alive")

            def chunks() -> Iterator[bytes]:
                yield os.urandom(64 * KIB)
                yield os.urandom(64 * KIB)
                os.killpg(service.pid, signal.SIGKILL)  # the service dies with two blocks staged
                yield os.urandom(64 * KIB)
                yield os.urandom(64 * KIB)

            outcome: list[BaseException] = []

            def write() -> None:
                try:
                    driver.write_stream("/dying", 0, chunks())
                except BaseException as error:
                    outcome.append(error)

            writer = threading.Thread(target=write, daemon=True)
            writer.start()
            writer.join(120)  # a hang detector only; with the SDK's own schedule this took 52 s and more
            assert not writer.is_alive(), "write_stream did not end after the service died"
            assert len(outcome) == 1
            error = outcome[0]
            assert type(error) is StorageDriverError
            assert "stage a block of /dying" in str(error), error
            assert "commit" not in str(error)
        finally:
            driver.close()
