"""Hold back mass deletions (D-Guard): a vendor glitch must not cost users their absences.

A Personio answer that is empty or cut short looks exactly like a company whose
absences were all cancelled. The engine cannot tell the two apart, so it asks for
consent above a threshold: deletions of absences whose period left the source are
held back when there are more than max(5, maxPercent % of the absences owned in the
window), and always when Personio listed no period at all while some are owned.
Duplicate clean-up (R14) is never held: the period keeps its one absence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from personio_sync.engine.marker import period_id_of
from personio_sync.engine.model import AworkAbsence, DateRange
from personio_sync.engine.plan import LEFT_SOURCE, Plan, awork_dates
from personio_sync.engine.report import HeldDeletes, counted

MIN_DELETES = 5


@dataclass(frozen=True, slots=True)
class DeletionGuard:
    """The spec's `deletionGuard` and the one-off consent, in engine terms."""

    max_percent: int = 25
    allow: bool = False


def owned_in_window(owned: Sequence[AworkAbsence], owner: str, window: DateRange) -> int:
    return sum(
        1
        for absence in owned
        if period_id_of(absence.external_provider, owner) is not None
        and awork_dates(absence).overlaps(window)
    )


def deletion_limit(owned: int, max_percent: int) -> int:
    return max(MIN_DELETES, owned * max_percent // 100)


def hold_mass_deletions(
    plan: Plan, *, owned: int, source_empty: bool, guard: DeletionGuard
) -> HeldDeletes | None:
    """Take the plan's "left source" deletions out of it when they need consent.

    All of them or none: deleting an arbitrary first quarter of a glitch would still
    lose data. Returns what was held (None: nothing)."""
    leaving = [d for d in plan.deletes if d.reason == LEFT_SOURCE]
    limit = deletion_limit(owned, guard.max_percent)
    if guard.allow or not leaving:
        return None
    if not (source_empty and owned > 0) and len(leaving) <= limit:
        return None
    plan.deletes = [d for d in plan.deletes if d.reason != LEFT_SOURCE]
    plan.held = leaving
    return HeldDeletes(len(leaving), owned, limit, source_empty)


def describe(held: HeldDeletes) -> str:
    """One sentence for status, Events and the CLI; the caller adds how to allow it."""
    why = (
        f"Personio listed no absence periods while this sync owns {held.owned_in_window} in "
        "the window"
        if held.source_empty
        else f"more than the {held.limit} a run may delete ({held.owned_in_window} owned in "
        "the window, spec.deletionGuard.maxPercent)"
    )
    return f"{counted(held.count, 'deletion', 'deletions')} held back: {why}"
