"""The Personio webhook events the operator acts on, in one list (HOOK-3, HOOK-7).

The receiver turns exactly these into changes for a targeted sync, and
self-registration subscribes to exactly these, so the two cannot drift apart. The
names are Personio's own (reference §6): the four absence-period events name a period;
`person.*` and the employment's start and end name a person (Personio does not document
the payload of `employment.*` events; its id is read as the person's, and a targeted
sync treats an id it cannot find as nothing to do). Everything else Personio offers
(`attendance-period.*`, `document.*`, `employment.updated.cost-centers`, ...) changes
nothing the sync reads: acknowledged and ignored, and never subscribed to.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class Names(Enum):
    """What an event's `payload.id` names."""

    PERIOD = "period"
    PERSON = "person"


class PersonioEvent(StrEnum):
    ABSENCE_PERIOD_CREATED = "absence-period.created"
    ABSENCE_PERIOD_UPDATED_TIMERANGE = "absence-period.updated.timerange"
    ABSENCE_PERIOD_UPDATED_STATUS = "absence-period.updated.status"
    ABSENCE_PERIOD_DELETED = "absence-period.deleted"
    PERSON_CREATED = "person.created"
    PERSON_UPDATED = "person.updated"
    PERSON_DELETED = "person.deleted"
    EMPLOYMENT_STARTED = "employment.started"
    EMPLOYMENT_TERMINATED = "employment.terminated"

    @property
    def names(self) -> Names:
        return Names.PERIOD if self.value.startswith("absence-period.") else Names.PERSON


# What self-registration asks Personio to deliver: everything the receiver acts on.
SUBSCRIBED: tuple[str, ...] = tuple(sorted(event.value for event in PersonioEvent))


def acted_on(event_name: str) -> PersonioEvent | None:
    """The event, if the operator acts on it; None for any other name."""
    try:
        return PersonioEvent(event_name)
    except ValueError:
        return None
