"""D-Owner (docs/rules.md): one owner per absence; conflicts are left alone, adoption
rewrites the marker in place, and keys of older versions are adopted on upgrade.
"""

from __future__ import annotations

from engine_builders import OTHER_OWNER, OWNER, owned, period, person, run, user

from personio_sync.engine.marker import (
    keys_to_adopt,
    legacy_owner_key,
    make_marker,
    owner_key,
    parse_marker,
)

ANNA = {"persons": [person("p1", "anna@example.com")], "users": [user("u1", "anna@example.com")]}
A = period("a", "p1", "2026-04-06", "2026-04-08")
THEIRS = owned("aw-t", "a", "u1", "2026-04-06T00:00:00", "2026-04-08T23:59:59", owner=OTHER_OWNER)
OURS = owned("aw-o", "a", "u1", "2026-04-06T00:00:00", "2026-04-08T23:59:59")


def test_d_owner_instance_id_makes_two_clusters_two_owners() -> None:
    here, there = owner_key("hr", "acme", "cluster-a"), owner_key("hr", "acme", "cluster-b")
    assert here != there and len(here) == len(there) == 12
    assert legacy_owner_key("hr", "acme") == owner_key("hr", "acme") not in (here, there)


def test_d_owner_markers_parse_to_owner_and_period() -> None:
    assert parse_marker(make_marker(OWNER, "p:1")) == (OWNER, "p:1")
    for foreign in (
        None,
        "",
        "clockodo",
        "personio-sync:",
        "personio-sync:abc",
        "personio-sync::x",
    ):
        assert parse_marker(foreign) is None


def test_d_owner_period_held_by_another_owner_is_a_conflict_and_nothing_is_written() -> None:
    outcome = run(**ANNA, periods=[A], absences=[THEIRS])
    assert outcome.plan.writes == 0
    [conflict] = outcome.report.conflicts
    assert (conflict.period_id, conflict.email, conflict.owner) == (
        "a",
        "anna@example.com",
        OTHER_OWNER,
    )
    assert outcome.report.to_json()["conflicts"] == [
        {"personioId": "a", "email": "anna@example.com", "owner": OTHER_OWNER}
    ]
    assert outcome.report.to_json()["owner"] == OWNER


def test_d_owner_conflict_does_not_stop_the_rest_of_the_run() -> None:
    b = period("b", "p1", "2026-05-04", "2026-05-04")
    outcome = run(**ANNA, periods=[A, b], absences=[THEIRS])
    assert [c.period_id for c in outcome.plan.creates] == ["b"]


def test_d_owner_adopt_from_rewrites_the_marker_in_place() -> None:
    outcome = run(**ANNA, periods=[A], absences=[THEIRS], adopt_from=[OTHER_OWNER])
    [update] = outcome.plan.updates
    assert (update.absence_id, update.body.external_provider) == ("aw-t", make_marker(OWNER, "a"))
    assert outcome.plan.creates == [] and outcome.plan.deletes == []
    assert outcome.report.conflicts == []


def test_d_owner_adopting_a_kept_period_keeps_its_fields() -> None:
    """An unmatched person's absence stays as it is (R13 decision), with our marker now."""
    unmatched = {"persons": [person("p1", "anna@new.example")], "users": ANNA["users"]}
    outcome = run(**unmatched, periods=[A], absences=[THEIRS], adopt_from=[OTHER_OWNER])
    [update] = outcome.plan.updates
    assert update.body.external_provider == make_marker(OWNER, "a")
    assert (update.body.start_on, update.body.end_on) == (THEIRS.start_on, THEIRS.end_on)
    assert update.body.description == THEIRS.description


def test_d_owner_adopted_absence_whose_period_left_is_deleted_as_ours() -> None:
    b = period("b", "p1", "2026-05-04", "2026-05-04")
    outcome = run(**ANNA, periods=[b], absences=[THEIRS], adopt_from=[OTHER_OWNER])
    assert [d.absence_id for d in outcome.plan.deletes] == ["aw-t"]


def test_d_owner_upgrade_adopts_the_legacy_key_without_conflicts() -> None:
    new, legacy = owner_key("hr", "acme", "uid-1"), legacy_owner_key("hr", "acme")
    before = owned("aw1", "a", "u1", "2026-04-06T00:00:00", "2026-04-08T23:59:59", owner=legacy)
    outcome = run(**ANNA, periods=[A], absences=[before], owner=new, adopt_from=[legacy])
    assert [u.body.external_provider for u in outcome.plan.updates] == [make_marker(new, "a")]
    assert outcome.report.conflicts == [] and outcome.plan.creates == []


def test_d_owner_keys_to_adopt_are_the_spec_s_and_the_legacy_key_never_the_owner() -> None:
    legacy = legacy_owner_key("hr", "acme")
    owner = owner_key("hr", "acme", "uid-1")
    assert keys_to_adopt("hr", "acme", owner, ["aaaaaaaaaaaa"]) == {legacy, "aaaaaaaaaaaa"}
    assert keys_to_adopt("hr", "acme", legacy) == frozenset()  # no instance id: nothing to adopt
    assert keys_to_adopt("hr", "acme", owner, [owner]) == {legacy}
