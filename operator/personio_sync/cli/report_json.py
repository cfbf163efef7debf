"""The CLI's `--output json`: everything the text report shows, for scripts.

The base is the report's own JSON (`SyncReport.to_json`, shape version 2: counts under
the user groups' names, e-mails under `<name>Emails`, as in `.status.users`); the CLI
adds what the text report shows besides: people without a readable e-mail, broken
`userMappings`, why periods were skipped, a dry run's planned actions (for an update,
the fields that would change), and the duration.
Errors are JSON too (`error_json`), with the reason code the status conditions use.
"""

from __future__ import annotations

from typing import Any

from personio_sync.engine.report import SyncReport
from personio_sync.errors import SyncError


def json_report(report: SyncReport) -> dict[str, Any]:
    doc = report.to_json()
    users = report.users
    doc["users"] = {
        **doc["users"],
        "withoutEmail": len(users.without_email),
        "withoutEmailIds": users.without_email,
        "brokenMappings": users.broken_mappings,
    }
    doc["skippedReasons"] = dict(sorted(report.skipped_reasons.items()))
    doc["planned"] = [
        {"action": p.action, "personioId": p.personio_id, "email": p.email,
         "start": p.start, "end": p.end, "changes": list(p.changes)}
        for p in report.planned
    ]  # fmt: skip
    doc["durationSeconds"] = round(report.duration_seconds, 3)
    return doc


def error_json(error: SyncError, exit_code: int) -> dict[str, Any]:
    return {"error": {"reason": error.reason, "message": error.message, "exitCode": exit_code}}
