"""The PersonioSync spec: every default, and bad input refused naming the field (R23)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from personio_sync.errors import SpecError
from personio_sync.resource.duration import MALFORMED, parse_duration
from personio_sync.resource.spec import (
    DeletionPolicy,
    DescriptionMode,
    HourlyAbsences,
    PersonioSyncSpec,
    parse_spec,
)

MINIMAL: dict[str, Any] = {"secretRef": {"name": "personio-sync"}}


def test_every_field_has_its_documented_default() -> None:
    spec = parse_spec(MINIMAL)
    assert spec.secretRef.name == "personio-sync"
    assert spec.interval == "1h" and spec.interval_delta == timedelta(hours=1)
    assert spec.timeZone == "Europe/Berlin"
    assert (spec.window.pastDays, spec.window.futureDays) == (14, 180)
    assert spec.includePending is False
    assert (spec.absenceTypes.include, spec.absenceTypes.exclude) == ([], [])
    assert spec.hourlyAbsences is HourlyAbsences.Skip
    assert spec.description.mode is DescriptionMode.TypeName
    assert spec.description.text == "Absent"
    assert spec.userMappings == []
    assert spec.dryRun is False
    assert spec.suspend is False
    assert spec.deletionPolicy is DeletionPolicy.Retain


def test_nested_defaults_fill_a_partial_object() -> None:
    spec = parse_spec({**MINIMAL, "window": {"pastDays": 3}, "description": {"mode": "Generic"}})
    assert (spec.window.pastDays, spec.window.futureDays) == (3, 180)
    assert (spec.description.mode, spec.description.text) == (DescriptionMode.Generic, "Absent")


def test_every_field_can_be_set() -> None:
    raw = {
        "secretRef": {"name": "s"},
        "interval": "1h30m",
        "quickInterval": "2m",
        "timeZone": "America/New_York",
        "window": {"pastDays": 0, "futureDays": 3650},
        "includePending": True,
        "absenceTypes": {"include": ["Paid vacation"], "exclude": ["type-sick"]},
        "hourlyAbsences": "FullDay",
        "description": {"mode": "Generic", "text": "Out of office"},
        "userMappings": [{"personioEmail": "a@x.example", "aworkEmail": "b@y.example"}],
        "dryRun": True,
        "suspend": True,
        "deletionPolicy": "Delete",
        "deletionGuard": {"maxPercent": 60},
        "adoptFrom": ["0123456789ab"],
        "statusDetail": "Counts",
        "webhook": {"register": True},
    }
    spec = parse_spec(raw)
    assert spec.model_dump(mode="json", exclude_none=True) == raw  # bar the deprecated url
    assert spec.interval_delta == timedelta(minutes=90)
    assert spec.quick_interval_delta() == timedelta(minutes=2)


def test_nrt_4_quick_interval_is_off_by_default_and_never_below_the_floor() -> None:
    assert parse_spec(MINIMAL).quick_interval_delta() is None
    spec = parse_spec({**MINIMAL, "quickInterval": "1m"})
    assert spec.quick_interval_delta() == timedelta(minutes=1)
    # The operator's setting may raise the floor past the spec's minimum.
    assert spec.quick_interval_delta(timedelta(minutes=5)) == timedelta(minutes=5)


@pytest.mark.parametrize("field", ["interval", "quickInterval"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0s", "must be at least 1m"),
        ("0", "must be at least 1m"),
        ("30s", "must be at least 1m"),
        ("59.999s", "must be at least 1m"),
        ("500ms", "must be at least 1m"),
        ("-1h", "must be at least 1m"),
        ("8761h", "must be at most 8760h (a year)"),
        ("8760h1ns", "must be at most 8760h (a year)"),
        ("99999999999999999999h", "must be at most 8760h (a year)"),
        ("", "must be a duration such as 1h, 30m, 1h30m or 1.5h (units h, m, s, ms, us, ns)"),
        ("1d", "must be a duration such as 1h"),
        ("2 minutes", "must be a duration such as 1h"),
        ("1h 30m", "must be a duration such as 1h"),
        ("9" * 40, "at most 32 characters"),
    ],
)
def test_r23_interval_and_quick_interval_refuse_alike_naming_field_and_bound(
    field: str, value: str, message: str
) -> None:
    """Decision (R23): both fields take the same durations, from 1m to 8760h; below or
    above is refused with the bound, never silently raised to it."""
    with pytest.raises(SpecError) as caught:
        parse_spec({**MINIMAL, field: value})
    assert f"spec.{field}: " in str(caught.value) and message in str(caught.value)


@pytest.mark.parametrize("field", ["interval", "quickInterval"])
@pytest.mark.parametrize(
    ("value", "length"),
    [
        ("1m", timedelta(minutes=1)),
        ("1.5h", timedelta(minutes=90)),
        ("1h30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("60000ms", timedelta(minutes=1)),
        ("+2m", timedelta(minutes=2)),
        (".5h", timedelta(minutes=30)),
        ("1m0.5s", timedelta(seconds=60.5)),
        ("8760h", timedelta(hours=8760)),
        ("525600m", timedelta(hours=8760)),
    ],
)
def test_r23_go_durations_are_accepted(field: str, value: str, length: timedelta) -> None:
    spec = parse_spec({**MINIMAL, field: value})
    assert getattr(spec, field) == value
    delta = spec.interval_delta if field == "interval" else spec.quick_interval_delta()
    assert delta == length


def test_spec_is_immutable() -> None:
    spec = parse_spec(MINIMAL)
    with pytest.raises(ValidationError):
        spec.dryRun = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("patch", "field", "hint"),
    [
        ({"secretRef": None}, "spec.secretRef", ""),
        ({"secretRef": {"name": ""}}, "spec.secretRef.name", "at least 1"),
        (
            {"timeZone": "Mars/Olympus_Mons"},
            "spec.timeZone",
            "unknown time zone 'Mars/Olympus_Mons'",
        ),
        ({"timeZone": "CEST+2"}, "spec.timeZone", "IANA"),
        ({"window": {"pastDays": -1}}, "spec.window.pastDays", "greater than or equal to 0"),
        ({"window": {"futureDays": -7}}, "spec.window.futureDays", "greater than or equal to 0"),
        ({"window": {"futureDays": 3651}}, "spec.window.futureDays", "less than or equal"),
        ({"hourlyAbsences": "Sometimes"}, "spec.hourlyAbsences", "'Skip' or 'FullDay'"),
        ({"description": {"mode": "Secret"}}, "spec.description.mode", "'TypeName'"),
        ({"description": {"text": ""}}, "spec.description.text", "at least 1"),
        ({"deletionPolicy": "Orphan"}, "spec.deletionPolicy", "'Retain' or 'Delete'"),
        ({"interval": "soon"}, "spec.interval", "must be a duration such as 1h"),
        ({"interval": "0h0m"}, "spec.interval", "must be at least 1m"),
        ({"secretRef": {"name": "."}}, "spec.secretRef.name", "pattern"),
        ({"secretRef": {"name": "Team/creds"}}, "spec.secretRef.name", "pattern"),
        ({"timeZone": "Europe/" + "x" * 100}, "spec.timeZone", "at most 64"),
        ({"absenceTypes": {"exclude": ["x" * 201]}}, "spec.absenceTypes.exclude.0", "at most 200"),
        ({"intervall": "1h"}, "spec.intervall", "Extra inputs are not permitted"),
        ({"window": {"past": 3}}, "spec.window.past", "Extra inputs are not permitted"),
        ({"absenceTypes": {"include": [""]}}, "spec.absenceTypes.include.0", "at least 1"),
        (
            {"userMappings": [{"personioEmail": "a@x.example"}]},
            "spec.userMappings.0.aworkEmail",
            "",
        ),
        ({"includePending": "maybe"}, "spec.includePending", "boolean"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(
    patch: dict[str, Any], field: str, hint: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({**MINIMAL, **patch})
    message = str(caught.value)
    assert message.startswith("invalid PersonioSync: ")
    assert f"{field}: " in message
    assert hint in message


def test_every_bad_field_is_named_in_one_message() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({**MINIMAL, "timeZone": "Nowhere/City", "window": {"pastDays": -1}})
    message = str(caught.value)
    assert "spec.timeZone: " in message and "spec.window.pastDays: " in message
    assert message.count("spec.") == 2


def test_spec_error_is_a_value_error_without_pydantic_noise() -> None:
    with pytest.raises(ValueError, match=r"spec\.secretRef") as caught:
        parse_spec({})
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "errors.pydantic.dev" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(minutes=90)),
        ("90s", timedelta(seconds=90)),
        ("2h0m5s", timedelta(hours=2, seconds=5)),
        ("1.5h", timedelta(minutes=90)),
        ("1.h", timedelta(hours=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1us", timedelta(microseconds=1)),
        ("1\u00b5s", timedelta(microseconds=1)),
        ("1\u03bcs", timedelta(microseconds=1)),
        ("1500ns", timedelta(microseconds=1)),
        ("1m1h", timedelta(minutes=61)),
        ("0", timedelta(0)),
        ("-1.5h", -timedelta(minutes=90)),
        ("0.1s", timedelta(milliseconds=100)),
        ("1.0000000000000000000001h", timedelta(hours=1)),
    ],
)
def test_parse_duration_reads_go_durations(text: str, expected: timedelta) -> None:
    """As Go's time.ParseDuration (which the API server's CEL duration() uses) reads them."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "1d", "h", ".h", "1", "1h 30m", "1hm", "1e3h", "--1h", "1.5.h"]
)
def test_parse_duration_refuses_what_go_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(MALFORMED)):
        parse_duration(text)


def test_model_validate_directly_uses_the_same_rules() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        PersonioSyncSpec.model_validate({**MINIMAL, "timeZone": "Atlantis/Capital"})


def test_hook_7_a_spec_that_still_names_a_webhook_url_is_accepted_and_the_url_ignored() -> None:
    """Deprecated, not removed: an older manifest still applies (kubectl's strict field
    validation would refuse an unknown field); the operator registers its own URL."""
    old = parse_spec({**MINIMAL, "webhook": {"url": "https://evil.example/x", "register": True}})
    assert old.webhook is not None and old.webhook.register_
    assert (
        parse_spec({**MINIMAL, "webhook": {}}).webhook
        == parse_spec({**MINIMAL, "webhook": {"register": False}}).webhook
    )  # receive only
