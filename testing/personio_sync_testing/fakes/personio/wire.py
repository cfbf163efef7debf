"""How the fake Personio's records look on the wire (v2 JSON)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from personio_sync_testing.fakes.personio.models import AbsencePeriod, AbsenceType, Moment, Person


def _dt(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def person_json(person: Person, *, email_readable: bool) -> dict[str, Any]:
    """Without the e-mail attribute permission only id, employments, custom_attributes come back."""
    body: dict[str, Any] = {"id": person.id}
    if email_readable:
        body.update(
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            preferred_name=person.preferred_name or person.first_name,
        )
    body["employments"] = [{"id": f"{person.id}01"}]
    body["custom_attributes"] = []
    return body


def type_json(absence_type: AbsenceType) -> dict[str, Any]:
    return {
        "id": absence_type.id,
        "name": absence_type.name,
        "category": absence_type.category,
        "unit": absence_type.unit,
    }


def _moment(moment: Moment | None) -> dict[str, Any] | None:
    if moment is None:
        return None
    return {"date_time": _dt(moment.date_time), "type": moment.type}


def period_json(period: AbsencePeriod, skew: timedelta = timedelta(0)) -> dict[str, Any]:
    """`skew` is added to updated_at (PersonioKnobs.updated_at_skew_s)."""
    created = period.created_at or datetime.min
    return {
        "id": period.id,
        "person": {"id": period.person_id},
        "absence_type": {"id": period.absence_type_id},
        "starts_from": _moment(period.starts_from),
        "ends_at": _moment(period.ends_at),
        "timezone_id": period.timezone_id,
        "comment": period.comment,
        "approval": {"status": period.status},
        "created_at": _dt(created),
        "updated_at": _dt((period.updated_at or created) + skew),
    }
