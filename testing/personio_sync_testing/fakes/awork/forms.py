"""`AbsenceForm` validation and awork's time snapping for POST/PUT /absences.

Validation follows the OpenAPI schema (additionalProperties: false, userId
required, description ≤ 1000, externalProvider ≤ 100) and fails with
`validation-failed` + validationErrors. startOn/endOn are required too (older
specs listed them as required; an absence without dates means nothing).

Snapping ("the time of the date will be ignored"; stored at 00:00:00, 12:00:00
or 23:59:59 UTC): the UTC calendar date of each bound is kept and the time is
set from the half-day flags —
  multi-day:  start 12:00:00 if isHalfDayOnStart else 00:00:00,
              end   12:00:00 if isHalfDayOnEnd   else 23:59:59;
  single day: only isHalfDayOnStart → 00:00:00 to 12:00:00 (morning),
              only isHalfDayOnEnd   → 12:00:00 to 23:59:59 (afternoon),
              neither or both       → 00:00:00 to 23:59:59.
An offset in the input is converted to UTC before the date is taken.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from personio_sync_testing.fakes.awork.errors import validation_failed

MORNING_END = time(12, 0, 0)
DAY_END = time(23, 59, 59)


class DateOrderError(ValueError):
    """endOn's date lies before startOn's (awork: 400 date-dependency)."""


class AbsenceForm(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    userId: str = Field(pattern=r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
    startOn: datetime
    endOn: datetime
    description: str | None = Field(None, max_length=1000)
    externalProvider: str | None = Field(None, max_length=100)
    isHalfDayOnStart: bool = False
    isHalfDayOnEnd: bool = False
    isSingleDayAbsence: bool | None = None  # read-only in awork: accepted and ignored


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def parse_form(raw: bytes) -> AbsenceForm:
    """Validate a request body; raises the vendor's 400 with validationErrors."""
    try:
        return AbsenceForm.model_validate_json(raw or b"null")
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        for err in exc.errors():
            prop = ".".join(_pascal(str(p)) for p in err["loc"]) or "Body"
            problems.append((prop, _message(err)))
        validation_failed(problems)


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return f"'{err['loc'][-1]}' must not be empty."
    if kind == "extra_forbidden":
        return f"Could not find member '{err['loc'][-1]}' on object of type 'AbsenceForm'."
    return str(err["msg"])


def utc_date(value: datetime) -> date:
    if value.tzinfo is None:
        return value.date()
    return value.astimezone(UTC).date()


def snap(
    form_start: datetime, form_end: datetime, half_start: bool, half_end: bool
) -> tuple[datetime, datetime]:
    """Stored (startOn, endOn) for the given bounds and flags; DateOrderError if reversed."""
    start, end = utc_date(form_start), utc_date(form_end)
    if end < start:
        raise DateOrderError("The end date must be the same as or after the start date.")
    if start == end:
        morning_only = half_start and not half_end
        afternoon_only = half_end and not half_start
        start_t = MORNING_END if afternoon_only else time(0)
        end_t = MORNING_END if morning_only else DAY_END
    else:
        start_t = MORNING_END if half_start else time(0)
        end_t = MORNING_END if half_end else DAY_END
    return (
        datetime.combine(start, start_t, tzinfo=UTC),
        datetime.combine(end, end_t, tzinfo=UTC),
    )
