"""The spec in engine terms: the one place a spec field becomes a sync policy value."""

from __future__ import annotations

from personio_sync.engine.matching import Override
from personio_sync.engine.policy import SyncPolicy
from personio_sync.engine.source import SourcePolicy
from personio_sync.resource.spec import DescriptionMode, HourlyAbsences, PersonioSyncSpec


def policy_of(spec: PersonioSyncSpec) -> SyncPolicy:
    generic = spec.description.mode is DescriptionMode.Generic
    source = SourcePolicy(
        include_pending=spec.includePending,
        include_types=tuple(spec.absenceTypes.include),
        exclude_types=tuple(spec.absenceTypes.exclude),
        hourly_as_full_day=spec.hourlyAbsences is HourlyAbsences.FullDay,
        generic_text=spec.description.text if generic else None,
    )
    return SyncPolicy(
        source=source,
        time_zone=spec.timeZone,
        past_days=spec.window.pastDays,
        future_days=spec.window.futureDays,
        overrides=tuple(Override(m.personioEmail, m.aworkEmail) for m in spec.userMappings),
        max_delete_percent=spec.deletionGuard.maxPercent,
        dry_run=spec.dryRun,
    )
