"""Who is who: Personio persons ↔ awork users by e-mail, with overrides (R6-R8).

awork does not expose other users' login e-mail, so every e-mail contact info of a
user is a candidate address. Ambiguity is never resolved by guessing: an address
that points at more than one user on either side is reported and not synced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from personio_sync.engine.model import AworkUser, Person
from personio_sync.engine.report import UserReport


def normalize_email(email: str) -> str:
    """Addresses compare after trimming and case-folding (R6)."""
    return email.strip().casefold()


@dataclass(frozen=True)
class Override:
    personio_email: str
    awork_email: str


@dataclass
class Matching:
    """person id → awork user id for every matched person, plus the report."""

    user_of: dict[str, str] = field(default_factory=dict)
    email_of: dict[str, str] = field(default_factory=dict)
    ambiguous_persons: set[str] = field(default_factory=set)
    report: UserReport = field(default_factory=UserReport)


def is_candidate(user: AworkUser) -> bool:
    """Archived, API and agent users are neither matched nor reported (R6)."""
    return not (user.is_archived or user.is_api_user or user.is_agent)


def _index(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    index: dict[str, set[str]] = defaultdict(set)
    for email, ident in pairs:
        index[normalize_email(email)].add(ident)
    return index


def match_users(
    persons: Sequence[Person], users: Sequence[AworkUser], overrides: Sequence[Override] = ()
) -> Matching:
    candidates = [u for u in users if is_candidate(u)]
    awork_by_email = _index((e, u.id) for u in candidates for e in u.emails if e.strip())
    persons_by_email = _index((p.email, p.id) for p in persons if p.email and p.email.strip())
    redirect = {
        normalize_email(o.personio_email): normalize_email(o.awork_email) for o in overrides
    }
    result = Matching()
    report = result.report
    report.broken_mappings = _broken(overrides, persons_by_email, awork_by_email)

    claims: dict[str, list[str]] = defaultdict(list)  # awork user id → person ids
    for person in persons:
        if not person.email or not person.email.strip():
            report.without_email.append(person.id)
            continue
        email = normalize_email(person.email)
        result.email_of[person.id] = email
        targets = awork_by_email.get(redirect.get(email, email), set())
        if len(persons_by_email[email]) > 1 or len(targets) > 1:
            result.ambiguous_persons.add(person.id)
        elif targets:
            claims[next(iter(targets))].append(person.id)
        else:
            report.personio_only.append(email)

    for user_id, person_ids in claims.items():
        if len(person_ids) > 1:  # one awork user claimed by several people
            result.ambiguous_persons.update(person_ids)
            report.colliding_mappings += _redirected(person_ids, result.email_of, redirect)
            continue
        result.user_of[person_ids[0]] = user_id
        report.matched.append(result.email_of[person_ids[0]])

    report.ambiguous = sorted({result.email_of[p] for p in result.ambiguous_persons})
    claimed = set(claims)
    report.awork_only = sorted(
        _label(u) for u in candidates if u.id not in claimed and not _shares_ambiguous(u, report)
    )
    report.matched.sort()
    report.personio_only.sort()
    report.colliding_mappings.sort()
    report.without_email.sort()
    return result


def _redirected(
    person_ids: Sequence[str], email_of: dict[str, str], redirect: dict[str, str]
) -> list[str]:
    """The overrides among people who claim one awork user: each made someone ambiguous."""
    emails = (email_of[p] for p in person_ids)
    return [f"{e} -> {redirect[e]}" for e in emails if e in redirect and redirect[e] != e]


def _shares_ambiguous(user: AworkUser, report: UserReport) -> bool:
    return any(normalize_email(e) in report.ambiguous for e in user.emails)


def _label(user: AworkUser) -> str:
    emails = sorted(normalize_email(e) for e in user.emails if e.strip())
    return emails[0] if emails else f"(no e-mail) {user.name or user.id}"


def _broken(
    overrides: Sequence[Override],
    persons_by_email: dict[str, set[str]],
    awork_by_email: dict[str, set[str]],
) -> list[str]:
    """Overrides whose either side points at nobody (R8), as 'personio -> awork' lines."""
    broken = []
    for o in overrides:
        p, a = normalize_email(o.personio_email), normalize_email(o.awork_email)
        if p not in persons_by_email or a not in awork_by_email:
            side = "Personio person" if p not in persons_by_email else "awork user"
            broken.append(f"{p} -> {a} (no {side} with that e-mail)")
    return sorted(broken)
