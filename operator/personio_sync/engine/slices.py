"""Targeted sync (NRT): the full sync's rules for a few periods alone.

A webhook or a poll names a handful of Personio periods. Rather than a second rule
set, the snapshot is cut down to those periods (what Personio still holds of them,
and every personio-sync absence whose marker names one of them, whoever owns it) and
goes through the same `reconcile`: R1-R16, conflicts and adoption (D-Owner) come out
exactly as a full sync would plan them for those periods. Persons, types and awork
users stay whole, so matching (R6-R8) sees what a full sync sees.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from personio_sync.engine.guard import MIN_DELETES
from personio_sync.engine.marker import parse_marker
from personio_sync.engine.model import AbsencePeriod, AworkAbsence
from personio_sync.engine.plan import LEFT_SOURCE
from personio_sync.engine.policy import SyncPolicy
from personio_sync.engine.reconcile import Outcome, Snapshot, reconcile
from personio_sync.errors import WiderThanTargeted


@dataclass(frozen=True)
class Slice:
    """What a targeted run read. `period_ids`: every period it is about; `snapshot`: the
    periods Personio still holds of them (one it answered 404 for is simply absent),
    whole persons, types and users, and the personio-sync absences naming them."""

    period_ids: frozenset[str]
    snapshot: Snapshot


def period_of_marker(absence: AworkAbsence) -> str | None:
    parsed = parse_marker(absence.external_provider)
    return None if parsed is None else parsed[1]


def restrict(snapshot: Snapshot, period_ids: Collection[str]) -> Snapshot:
    """The snapshot of those periods alone: the full sync's view, cut to them."""
    wanted = frozenset(period_ids)
    periods: Sequence[AbsencePeriod] = [p for p in snapshot.periods if p.id in wanted]
    owned = [a for a in snapshot.owned if period_of_marker(a) in wanted]
    return Snapshot(snapshot.persons, snapshot.types, periods, snapshot.users, owned)


def reconcile_targeted(
    policy: SyncPolicy,
    piece: Slice,
    *,
    today: date,
    owner: str,
    adopt_from: Collection[str] = (),
) -> Outcome:
    """Plan what a full sync would plan for `piece.period_ids` (NRT-1, NRT-2).

    The deletion guard's "empty answer" case cannot apply (an empty slice is a normal
    answer: the one period was deleted), and its share of a slice means nothing; a
    targeted run instead deletes at most MIN_DELETES absences whose period left the
    source and raises WiderThanTargeted beyond that, so the full sync's guard decides."""
    outcome = reconcile(
        policy,
        restrict(piece.snapshot, piece.period_ids),
        today=today,
        owner=owner,
        allow_mass_delete=True,
        adopt_from=adopt_from,
    )
    leaving = sum(1 for d in outcome.plan.deletes if d.reason == LEFT_SOURCE)
    if leaving > MIN_DELETES:
        raise WiderThanTargeted(
            f"{leaving} absences would be deleted: more than a targeted run deletes alone"
        )
    return outcome
