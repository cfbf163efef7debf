"""The CLI's human-readable report: what an admin checks after a run."""

from __future__ import annotations

from personio_sync.engine.guard import describe
from personio_sync.engine.report import SyncReport

LIST_LIMIT = 20


def _names(title: str, emails: list[str]) -> list[str]:
    if not emails:
        return []
    shown = ", ".join(emails[:LIST_LIMIT])
    more = f" (+{len(emails) - LIST_LIMIT} more)" if len(emails) > LIST_LIMIT else ""
    return [f"  {title} ({len(emails)}): {shown}{more}"]


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
    if users.without_email:
        lines.append(
            f"  {len(users.without_email)} Personio persons without a readable e-mail: "
            "make the e-mail attribute readable for the API credential in Personio"
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
            f"  {len(report.conflicts)} periods left alone: another owner holds them "
            f"({owners}); add its key to spec.adoptFrom to take them over"
        )
    if report.skipped_reasons:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.skipped_reasons.items()))
        lines.append(f"  skipped because {reasons}")
    if report.dry_run:
        lines += [
            f"  would {p.action} {p.personio_id} {p.email} {p.start}..{p.end}".rstrip()
            for p in report.planned
        ]
    lines += [f"  FAILED {f.personio_id} {f.email}: {f.reason}" for f in report.failures[:50]]
    if report.owner:
        lines.append(f"Owner key: {report.owner}")
    lines.append(f"Took {report.duration_seconds:.1f}s")
    return "\n".join(lines)
