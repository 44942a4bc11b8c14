"""Driver parameters: typed values from JSON or strings, defaults, and errors that list what is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from registry_storage.errors import InvalidParameterError
from registry_storage.parameters import Parameter, parse_parameters, redacted

DECLARED = [
    Parameter("bucket", str),
    Parameter("region", str, default="us-east-1"),
    Parameter("secure", bool, default=True),
    Parameter("chunksize", int, default=5, minimum=5, maximum=100),
    Parameter("secretkey", str, secret=True),
]
ACCEPTED = sorted(parameter.name for parameter in DECLARED)


def parse(given: dict[str, Any] | None) -> dict[str, Any]:
    return parse_parameters("s3", DECLARED, given)


def test_defaults_fill_what_is_not_given() -> None:
    assert parse({}) == {"bucket": None, "region": "us-east-1", "secure": True, "chunksize": 5, "secretkey": None}
    assert parse(None) == parse({})


def test_none_counts_as_not_given() -> None:
    assert parse({"region": None})["region"] == "us-east-1"


def test_given_values_are_returned_converted() -> None:
    values = parse({"bucket": "b", "secure": "false", "chunksize": "64"})
    assert values["bucket"] == "b"
    assert values["secure"] is False
    assert values["chunksize"] == 64


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("off", False),
        ("0", False),
    ],
)
def test_booleans_accept_json_and_strings(given: object, expected: bool) -> None:
    assert parse({"secure": given})["secure"] is expected


@pytest.mark.parametrize("given", ["maybe", "", 1, 0, 1.0, []])
def test_booleans_refuse_anything_else(given: object) -> None:
    with pytest.raises(InvalidParameterError, match="boolean"):
        parse({"secure": given})


@pytest.mark.parametrize(("given", "expected"), [(7, 7), ("7", 7), (" 42 ", 42), (5, 5), (100, 100)])
def test_integers_accept_json_and_strings(given: object, expected: int) -> None:
    assert parse({"chunksize": given})["chunksize"] == expected


@pytest.mark.parametrize("given", [True, "seven", 7.5, "7.5", [7]])
def test_integers_refuse_anything_else(given: object) -> None:
    with pytest.raises(InvalidParameterError, match="integer"):
        parse({"chunksize": given})


@pytest.mark.parametrize("given", [4, "101", -1])
def test_integers_outside_the_range_are_refused(given: object) -> None:
    with pytest.raises(InvalidParameterError, match=r"outside the allowed range 5\.\.100"):
        parse({"chunksize": given})


@pytest.mark.parametrize("given", [5, True, ["a"], {"a": 1}])
def test_strings_refuse_other_types(given: object) -> None:
    with pytest.raises(InvalidParameterError, match="string"):
        parse({"bucket": given})


def test_an_unknown_parameter_is_refused_with_the_accepted_names() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse({"bucket": "b", "regoin": "eu"})
    error = caught.value
    assert error.parameter == "regoin"
    assert error.reason == "unknown parameter"
    assert error.accepted == ACCEPTED
    assert error.driver == "s3"
    assert f"accepted parameters: {', '.join(ACCEPTED)}" in str(error)


def test_a_bad_value_names_the_parameter_and_the_accepted_names() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse({"chunksize": "lots"})
    assert caught.value.parameter == "chunksize"
    assert caught.value.accepted == ACCEPTED
    assert "'lots'" in str(caught.value)


def test_a_driver_without_parameters_refuses_every_parameter() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse_parameters("inmemory", [], {"anything": 1})
    assert caught.value.accepted == []
    assert "accepted parameters: none" in str(caught.value)
    assert parse_parameters("inmemory", [], {}) == {}


def test_redacted_hides_secrets_that_are_set() -> None:
    values = parse({"bucket": "b", "secretkey": "hunter2"})
    shown = redacted(DECLARED, values)
    assert shown["secretkey"] == "***"
    assert shown["bucket"] == "b"
    assert "hunter2" not in repr(shown)
    assert values["secretkey"] == "hunter2"


def test_redacted_leaves_unset_secrets_as_none() -> None:
    assert redacted(DECLARED, parse({}))["secretkey"] is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [("0x40", 64), ("0X40", 64), ("0o100", 64), ("0100", 64), ("0b1000000", 64), ("6_4", 64), (" 64 ", 64)],
)
def test_integers_accept_the_registrys_forms(given: str, expected: int) -> None:
    assert parse({"chunksize": given})["chunksize"] == expected


@pytest.mark.parametrize("given", ["0x", "1.5", "0789", "ten", ""])
def test_integers_refuse_other_text(given: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        parse({"chunksize": given})
    assert caught.value.parameter == "chunksize"


IGNORING = [
    Parameter("rootdirectory", str, default="/r"),
    Parameter("maxthreads", int, ignored=True, help="the registry's limit of concurrent filesystem calls"),
    Parameter("credentials", object, ignored=True),
    Parameter("maxretries", int, default=5, aliases=("max_retries",)),
]


def test_ignored_parameters_are_accepted_with_any_value_and_left_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="registry_storage.parameters")
    values = parse_parameters("fsx", IGNORING, {"maxthreads": "not a number", "credentials": {"type": "x"}})
    assert values == {"rootdirectory": "/r", "maxretries": 5}
    parse_parameters("fsx", IGNORING, {"maxthreads": 100})
    logged = [record.getMessage() for record in caplog.records if "maxthreads" in record.getMessage()]
    assert len(logged) == 1
    assert "no effect" in logged[0]
    assert all(record.levelname == "INFO" for record in caplog.records)


def test_an_alias_sets_its_parameter_and_both_names_are_refused() -> None:
    assert parse_parameters("az", IGNORING, {"max_retries": "3"})["maxretries"] == 3
    with pytest.raises(InvalidParameterError) as caught:
        parse_parameters("az", IGNORING, {"max_retries": "3", "maxretries": 2})
    assert "another name" in caught.value.reason
    with pytest.raises(InvalidParameterError) as unknown:
        parse_parameters("az", IGNORING, {"max_retry": 1})
    assert "max_retries" in (unknown.value.accepted or [])


MAPPING = Parameter("credentials", dict, secret=True)


def test_a_mapping_parameter_takes_a_mapping_or_json_object_text() -> None:
    assert MAPPING.parse({"type": "service_account"}, "gcs", ["credentials"]) == {"type": "service_account"}
    assert MAPPING.parse('{"type": "service_account"}', "gcs", ["credentials"]) == {"type": "service_account"}


@pytest.mark.parametrize("value", ["[1, 2]", "not json", 5, [("a", 1)], {1: "x"}])
def test_a_mapping_parameter_refuses_anything_else_without_echoing_it(value: object) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        MAPPING.parse(value, "gcs", ["credentials"])
    assert caught.value.parameter == "credentials"
    assert "not json" not in str(caught.value)
