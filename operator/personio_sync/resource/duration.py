"""Durations as Kubernetes users write them: Go's `time.ParseDuration` syntax.

`spec.interval` and `spec.quickInterval` take the form the API server's CEL `duration()`
parses (fractions, units ns to h, combined like `1h30m`), so the operator, the CLI and the
API server accept exactly the same strings. The CRD's rules (`cel_rules`) say the same
as `check_duration` does, with the same messages, so a refusal reads the same wherever
it happens.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

# Go's units; the micro sign and the Greek mu both spell microseconds, as in Go.
_NANOS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6,
          "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}  # fmt: skip
_UNIT = "(" + "|".join(sorted(_NANOS, key=len, reverse=True)) + ")"
_MICRO = "(us|\u00b5s|\u03bcs)"
# One or more <number><unit>, optionally signed; "0" alone needs no unit (as in Go).
DURATION_PATTERN = r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)" + _UNIT + ")+)$"
_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?" + _UNIT)
_GO_RANGE = (1 << 63) - 1  # nanoseconds: Go's durations are int64
_MAX_FRACTION = _GO_RANGE  # Go stops reading fraction digits past this

MINIMUM = timedelta(minutes=1)
MAXIMUM = timedelta(hours=8760)  # a year: longer is a typo, not a schedule
FORM = "a duration such as 1h, 30m, 1h30m or 1.5h (units h, m, s, ms, us, ns)"
MALFORMED = f"must be {FORM}"
AT_LEAST = "must be at least 1m"
AT_MOST = "must be at most 8760h (a year)"

# A part that alone is longer than MAXIMUM (5+ digits of hours, 7+ of minutes, ...): the
# CRD's rules refuse it before CEL's duration(), which would overflow on such numbers.
_HUGE = "|".join(
    rf"(^|[^0-9.])0*[1-9][0-9]{{{digits - 1},}}(\.[0-9]*)?{unit}"
    for digits, unit in ((5, "h"), (7, "m([^s]|$)"), (9, "s"), (12, "ms"), (15, _MICRO), (18, "ns"))
)


def parse_duration(value: str) -> timedelta:
    """The duration `value` means, as Go computes it (cut to the microseconds timedelta
    holds). Raises ValueError naming the accepted form."""
    return timedelta(microseconds=_nanoseconds(value) // 1000)


def _nanoseconds(value: str) -> int:
    if not re.fullmatch(DURATION_PATTERN, value):
        raise ValueError(MALFORMED)
    parts = _PART.findall(value.lstrip("+-"))
    nanos = sum(_part_nanos(whole, fraction, unit) for whole, fraction, unit in parts)
    # Past Go's range (where Go fails to parse) it is simply too long: keep timedelta's range.
    return (-1 if value.startswith("-") else 1) * min(nanos, _GO_RANGE)


def _part_nanos(whole: str, fraction: str, unit: str) -> int:
    """One <number><unit> in nanoseconds, the fraction in Go's float64 arithmetic."""
    digits, scale = 0, 1
    for char in fraction:
        if digits * 10 + int(char) > _MAX_FRACTION:
            break
        digits, scale = digits * 10 + int(char), scale * 10
    return int(whole or 0) * _NANOS[unit] + int(digits * (_NANOS[unit] / scale))


def check_duration(value: str) -> str:
    """`value` if it is a duration from MINIMUM to MAXIMUM; else ValueError with the
    message the API server gives for it (`cel_rules`)."""
    nanos = _nanoseconds(value)  # compared in nanoseconds, as CEL compares them
    if nanos < _in_nanoseconds(MINIMUM):
        raise ValueError(AT_LEAST)
    if nanos > _in_nanoseconds(MAXIMUM):
        raise ValueError(AT_MOST)
    return value


def _in_nanoseconds(length: timedelta) -> int:
    return length // timedelta(microseconds=1) * 1000


def cel_rules() -> list[dict[str, Any]]:
    """`x-kubernetes-validations` for a duration field: the API server's side of
    `check_duration`, with its messages. A malformed value gets only the first message;
    CEL's duration() runs only on values it parses without overflowing."""
    form = f"self.matches(r'{DURATION_PATTERN}')"
    huge = f"self.matches(r'{_HUGE}')"
    negative = "self.startsWith('-')"
    return [
        {"rule": form, "message": MALFORMED},
        {
            "rule": f"!{form} || (!{negative} && ({huge} || duration(self) >= duration('1m')))",
            "message": AT_LEAST,
        },
        {
            "rule": f"!{form} || {negative} || (!{huge} && duration(self) <= duration('8760h'))",
            "message": AT_MOST,
        },
    ]
