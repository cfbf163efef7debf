"""The CLI's human-readable report: what an admin checks after a run."""

from __future__ import annotations

from personio_sync.engine.guard import describe
from personio_sync.engine.report import PlannedAction, SyncReport, counted

LIST_LIMIT = 20
# The report's keys in words (UX-9): the text is for people, the JSON keeps the keys.
SKIPPED = {
    "hourly": "hour-based (spec.hourlyAbsences: Skip)",
    "unmatchedUser": "the person has no awork user",
    "ambiguousUser": "the person's e-mail is ambiguous",
    "unknownType": "Personio did not list the absence type",
    "idTooLongForMarker": "the period id is too long for awork's marker",
}
CHANGES = {
    "user": "awork user",
    "start": "start date",
    "end": "end date",
    "halfDayOnStart": "half day at the start",
    "halfDayOnEnd": "half day at the end",
    "description": "description",
    "owner": "owner (adopted)",
}


def _names(title: str, emails: list[str]) -> list[str]:
    if not emails:
        return []
    shown = ", ".join(emails[:LIST_LIMIT])
    more = f" (+{len(emails) - LIST_LIMIT} more)" if len(emails) > LIST_LIMIT else ""
    return [f"  {title} ({len(emails)}): {shown}{more}"]


def _planned(action: PlannedAction) -> str:
    line = f"  would {action.action} {action.personio_id} {action.email}".rstrip()
    if action.start:
        line += f" {action.start}..{action.end}"
    if action.changes:
        line += ": " + ", ".join(CHANGES.get(name, name) for name in action.changes)
    return line


def render_text(report: SyncReport) -> str:
    users, acts = report.users, report.actions
    lines = [
        f"Window: {report.window.start} .. {report.window.end}"
        + ("  (dry run: nothing written)" if report.dry_run else ""),
        f"Users: {len(users.matched)} matched",
        *_names("only in Personio", users.personio_only),
        *_names("only in awork", users.awork_only),
        *_names("ambiguous e-mail, not synced", users.ambiguous),
        *_names("broken userMappings", users.broken_mappings),
    ]
    if users.without_email:  # some, not all: then the run stops (PersonioEmailNotReadable)
        count = len(users.without_email)
        lines.append(
            f"  {counted(count, 'Personio person', 'Personio people')} without a readable "
            "e-mail (ids in the JSON report): give them an e-mail in Personio, or let the "
            "credential read the e-mail attribute of every person"
        )
    verb = "planned" if report.dry_run else "done"
    lines.append(
        f"Absences {verb}: {acts.created} created, {acts.updated} updated, "
        f"{acts.deleted} deleted, {acts.unchanged} unchanged, {acts.skipped} skipped, "
        f"{acts.failed} failed"
    )
    if report.held is not None:
        lines.append(
            f"  {describe(report.held)}; if Personio is right, run again with --allow-mass-delete"
        )
    if report.conflicts:
        owners = ", ".join(sorted({c.owner for c in report.conflicts}))
        lines.append(
            f"  {counted(len(report.conflicts), 'period', 'periods')} left alone: another "
            "owner holds them "
            f"({owners}); add its key to spec.adoptFrom to take them over"
        )
    if report.skipped_reasons:
        counts = sorted(report.skipped_reasons.items())
        reasons = "; ".join(f"{SKIPPED.get(key, key)}: {count}" for key, count in counts)
        lines.append(f"  skipped because {reasons}")
    if report.dry_run:
        lines += [_planned(p) for p in report.planned]
    lines += [f"  FAILED {f.personio_id} {f.email}: {f.reason}" for f in report.failures[:50]]
    if report.owner:
        lines.append(f"Owner key: {report.owner}")
    lines.append(f"Took {report.duration_seconds:.1f}s")
    return "\n".join(lines)
