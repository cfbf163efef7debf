"""UX-14 / UX-15: a Warning says what its condition says, and every count agrees with
its noun (`1 person has`, `2 people have`) in conditions, Events, summaries and the CLI.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from personio_sync.cli.report_text import render_text
from personio_sync.controller.reporting.conditions import PERSONIO, for_report
from personio_sync.controller.reporting.events import run_events
from personio_sync.controller.reporting.report_parts import summary
from personio_sync.engine.guard import describe
from personio_sync.engine.model import DateRange
from personio_sync.engine.report import (
    ActionCounts,
    Conflict,
    Failure,
    HeldDeletes,
    SyncReport,
    UserReport,
    counted,
)

WINDOW = DateRange(date(2026, 7, 7), date(2027, 1, 17))
# A noun in the plural right after the count 1: what UX-15 rules out.
ONE_PLURAL = re.compile(
    r"\b1 (Personio |awork |spec\.userMappings )?"
    r"(people|persons|absences|entries|deletions|periods|absence periods)\b"
)


def every_count(n: int, *, dry_run: bool = False) -> SyncReport:
    """A run where each count a message can give is `n`."""
    emails = [f"p{i}@x.example" for i in range(n)]
    return SyncReport(
        window=WINDOW,
        dry_run=dry_run,
        users=UserReport(
            matched=emails,
            personio_only=emails,
            awork_only=emails,
            ambiguous=emails,
            without_email=[str(i) for i in range(n)],
            broken_mappings=[f"{e} -> nobody@x.example" for e in emails],
            colliding_mappings=[f"{e} -> a@x.example" for e in emails],
        ),
        actions=ActionCounts(failed=n, held_deletes=n, conflicts=n),
        failures=[Failure(str(i), "", "awork 400") for i in range(n)],
        held=HeldDeletes(count=n, owned_in_window=n, limit=0, source_empty=False),
        conflicts=[Conflict(str(i), "", "ba9876543210") for i in range(n)],
    )


def messages(run: SyncReport) -> list[str]:
    """Every text a completed run's report becomes: conditions, Events, summary, CLI; and
    the conditions of the same people in a clean run (Synced then counts the matched)."""
    clean = SyncReport(window=WINDOW, dry_run=run.dry_run, users=run.users)
    texts = [c.message for c in [*for_report(run, lists=False), *for_report(clean)]]
    texts += [message for _, _, message in run_events(run, "acme")]
    return [*texts, summary(run), render_text(run)]


def test_ux_15_a_count_of_one_takes_the_singular_everywhere() -> None:
    for dry_run in (False, True):
        wrong = [m for m in messages(every_count(1, dry_run=dry_run)) if ONE_PLURAL.search(m)]
        assert not wrong, wrong
    texts = " | ".join(messages(every_count(1)))
    for words in ("1 person matched", "1 person is ambiguous", "1 absence could not be written",
                  "1 absence is already synced", "1 spec.userMappings entry points",
                  "1 Personio person has no readable e-mail", "1 deletion held back",
                  "1 period left alone", "1 Personio person without"):  # fmt: skip
        assert words in texts


def test_ux_15_other_counts_take_the_plural() -> None:
    texts = " | ".join(messages(every_count(2)))
    for words in ("2 people matched", "2 people are ambiguous", "2 absences could not",
                  "2 absences are already synced", "2 spec.userMappings entries point",
                  "2 Personio people have no readable e-mail", "2 deletions held back",
                  "2 periods left alone"):  # fmt: skip
        assert words in texts


@pytest.mark.parametrize(("count", "words"), [(0, "0 people"), (1, "1 person"), (2, "2 people")])
def test_ux_15_counted(count: int, words: str) -> None:
    assert counted(count, "person", "people") == words


def test_ux_15_held_deletions_of_one() -> None:
    held = HeldDeletes(count=1, owned_in_window=1, limit=0, source_empty=True)
    assert describe(held).startswith("1 deletion held back: Personio listed no absence periods")


def test_ux_14_partly_readable_warning_is_the_condition_with_the_partial_fix() -> None:
    """1 of 6 without an e-mail: the credential reads the attribute, so the fix is to give
    that person an e-mail (or widen the access), not to tick the attribute."""
    users = UserReport(matched=[f"p{i}@x.example" for i in range(5)], without_email=["1006"])
    run = SyncReport(window=WINDOW, dry_run=False, users=users)
    (personio,) = [c for c in for_report(run) if c.type == PERSONIO]
    (warning,) = [(k, r, m) for k, r, m in run_events(run, "acme") if k == "Warning"]
    assert (personio.status, personio.reason) == ("True", "EmailPartlyReadable")
    assert warning == ("Warning", "EmailPartlyReadable", personio.message)
    assert personio.message.startswith("1 Personio person has no readable e-mail")
    assert "give them an e-mail in Personio" in personio.message
    assert "status.users.withoutEmailIds" in personio.message


def test_ux_14_everyone_readable_posts_no_email_warning() -> None:
    run = SyncReport(window=WINDOW, dry_run=False, users=UserReport(matched=["a@x.example"]))
    assert [r for k, r, _ in run_events(run, "acme") if k == "Warning"] == []
    (personio,) = [c for c in for_report(run) if c.type == PERSONIO]
    assert personio.reason == "CredentialsAccepted"
