"""R6-R8: who is who — e-mail matching, the report of both sides, overrides."""

from __future__ import annotations

from engine_builders import period, person, run, spec, user

from personio_sync.engine.matching import match_users, normalize_email

VACATION_APRIL = ("2026-04-06", "2026-04-07")


# R6 — by e-mail ---------------------------------------------------------------------------


def test_r6_emails_match_after_trimming_and_case_folding() -> None:
    outcome = run(
        persons=[person("p1", "  Anna.Schmidt@Example.COM ")],
        users=[user("u1", "anna.schmidt@example.com\t")],
        periods=[period("a", "p1", *VACATION_APRIL)],
    )
    assert outcome.matching.user_of == {"p1": "u1"}
    assert [c.body.user_id for c in outcome.plan.creates] == ["u1"]
    assert outcome.report.users.matched == ["anna.schmidt@example.com"]


def test_r6_normalize_email() -> None:
    assert normalize_email(" Straße@Example.DE ") == "strasse@example.de"


def test_r6_user_with_two_emails_matches_on_either() -> None:
    u = user("u1", "anna@company.com", "anna@private.example")
    by_first = match_users([person("p1", "ANNA@company.com")], [u])
    by_second = match_users([person("p1", "anna@private.example")], [u])
    assert by_first.user_of == by_second.user_of == {"p1": "u1"}
    assert by_second.report.awork_only == []


def test_r6_archived_api_and_agent_users_are_not_candidates_and_not_reported() -> None:
    users = [
        user("u-arch", "old@example.com", is_archived=True),
        user("u-api", "bot@example.com", is_api_user=True),
        user("u-agent", "agent@example.com", is_agent=True),
        user("u-live", "live@example.com"),
    ]
    persons = [person("p-old", "old@example.com"), person("p-live", "live@example.com")]
    outcome = run(persons=persons, users=users, periods=[period("a", "p-old", *VACATION_APRIL)])
    report = outcome.report.users
    assert outcome.matching.user_of == {"p-live": "u-live"}
    assert outcome.plan.creates == []
    assert report.personio_only == ["old@example.com"]
    assert report.awork_only == []
    assert report.ambiguous == []


def test_r6_archived_twin_does_not_make_an_address_ambiguous() -> None:
    users = [user("u-old", "anna@example.com", is_archived=True), user("u-new", "anna@example.com")]
    result = match_users([person("p1", "anna@example.com")], users)
    assert result.user_of == {"p1": "u-new"}
    assert result.report.ambiguous == []


# R7 — report both sides -------------------------------------------------------------------


def test_r7_report_lists_matched_personio_only_and_awork_only_sorted() -> None:
    persons = [
        person("p1", "zoe@example.com"),
        person("p2", "anna@example.com"),
        person("p3", "carl@example.com"),
    ]
    users = [user("u1", "zoe@example.com"), user("u2", "ANNA@example.com"), user("u9", "x@ex.com")]
    report = match_users(persons, users).report
    assert report.matched == ["anna@example.com", "zoe@example.com"]
    assert report.personio_only == ["carl@example.com"]
    assert report.awork_only == ["x@ex.com"]


def test_r7_awork_user_without_any_email_is_listed_by_name() -> None:
    report = match_users([], [user("u1")]).report
    assert report.awork_only == ["(no e-mail) u1"]


def test_r7_email_shared_by_two_awork_users_is_ambiguous_and_not_synced() -> None:
    outcome = run(
        persons=[person("p1", "team@example.com")],
        users=[user("u1", "team@example.com"), user("u2", "Team@Example.com")],
        periods=[period("a", "p1", *VACATION_APRIL)],
    )
    report = outcome.report.users
    assert report.ambiguous == ["team@example.com"]
    assert report.matched == [] and report.personio_only == [] and report.awork_only == []
    assert outcome.plan.writes == 0
    assert outcome.report.skipped_reasons == {"ambiguousUser": 1}


def test_r7_awork_twins_nobody_asks_for_are_listed_as_awork_only() -> None:
    """Decision (docs/rules.md): an address is ambiguous only when a Personio person uses it."""
    report = match_users(
        [], [user("u1", "team@example.com"), user("u2", "team@example.com")]
    ).report
    assert report.ambiguous == []
    assert report.awork_only == ["team@example.com", "team@example.com"]


def test_r7_email_shared_by_two_personio_persons_is_ambiguous_and_not_synced() -> None:
    outcome = run(
        persons=[person("p1", "team@example.com"), person("p2", " TEAM@example.com")],
        users=[user("u1", "team@example.com")],
        periods=[period("a", "p1", *VACATION_APRIL), period("b", "p2", *VACATION_APRIL)],
    )
    report = outcome.report.users
    assert report.ambiguous == ["team@example.com"]
    assert report.matched == [] and report.awork_only == []
    assert outcome.plan.writes == 0
    assert outcome.report.skipped_reasons == {"ambiguousUser": 2}


def test_r7_one_awork_user_claimed_by_two_persons_via_two_emails_is_ambiguous() -> None:
    result = match_users(
        [person("p1", "anna@company.com"), person("p2", "anna@private.example")],
        [user("u1", "anna@company.com", "anna@private.example")],
    )
    assert result.user_of == {}
    assert result.report.ambiguous == ["anna@company.com", "anna@private.example"]
    assert result.report.awork_only == []


def test_r7_person_without_email_is_reported_with_the_hint() -> None:
    outcome = run(
        persons=[person("p1", None), person("p2", "   ")],
        users=[user("u1", "anna@example.com")],
        periods=[period("a", "p1", *VACATION_APRIL)],
    )
    report = outcome.report.users
    assert report.without_email == ["p1", "p2"]
    assert report.personio_only == []
    assert report.awork_only == ["anna@example.com"]
    assert outcome.plan.writes == 0
    assert outcome.report.skipped_reasons == {"unmatchedUser": 1}


def test_r7_unmatched_person_periods_are_skipped_not_written() -> None:
    outcome = run(
        persons=[person("p1", "nobody@example.com")],
        periods=[period("a", "p1", *VACATION_APRIL)],
    )
    assert outcome.plan.writes == 0
    assert outcome.report.actions.skipped == 1
    assert outcome.report.users.personio_only == ["nobody@example.com"]


def test_r7_report_json_carries_the_user_lists() -> None:
    outcome = run(
        persons=[person("p1", "a@example.com"), person("p2", "b@example.com")],
        users=[user("u1", "a@example.com"), user("u2", "c@example.com")],
    )
    users = outcome.report.to_json()["users"]
    assert users == {
        "matched": 1,
        "personioOnly": 1,
        "aworkOnly": 1,
        "ambiguous": 0,
        "matchedEmails": ["a@example.com"],
        "personioOnlyEmails": ["b@example.com"],
        "aworkOnlyEmails": ["c@example.com"],
        "ambiguousEmails": [],
    }


# R8 — overrides ---------------------------------------------------------------------------


def mapping(personio: str, awork: str) -> dict[str, str]:
    return {"personioEmail": personio, "aworkEmail": awork}


def test_r8_override_links_differing_addresses() -> None:
    outcome = run(
        spec(userMappings=[mapping("Anna.Private@GMX.example", "anna@company.com")]),
        persons=[person("p1", "anna.private@gmx.example")],
        users=[user("u1", "Anna@Company.com")],
        periods=[period("a", "p1", *VACATION_APRIL)],
    )
    assert [c.body.user_id for c in outcome.plan.creates] == ["u1"]
    report = outcome.report.users
    assert report.matched == ["anna.private@gmx.example"]
    assert report.personio_only == [] and report.awork_only == [] and report.broken_mappings == []


def test_r8_override_wins_over_an_equal_address() -> None:
    """Decision (docs/rules.md): an explicit mapping beats the plain e-mail match."""
    outcome = run(
        spec(userMappings=[mapping("anna@company.com", "anna.s@company.com")]),
        persons=[person("p1", "anna@company.com")],
        users=[user("u-old", "anna@company.com"), user("u-new", "anna.s@company.com")],
    )
    assert outcome.matching.user_of == {"p1": "u-new"}
    assert outcome.report.users.awork_only == ["anna@company.com"]


def test_r8_override_pointing_at_nobody_is_reported() -> None:
    outcome = run(
        spec(
            userMappings=[
                mapping("ghost@example.com", "anna@company.com"),
                mapping("bob@example.com", "Nobody@Company.com"),
            ]
        ),
        persons=[person("p1", "bob@example.com")],
        users=[user("u1", "anna@company.com")],
        periods=[period("a", "p1", *VACATION_APRIL)],
    )
    assert outcome.report.users.broken_mappings == [
        "bob@example.com -> nobody@company.com (no awork user with that e-mail)",
        "ghost@example.com -> anna@company.com (no Personio person with that e-mail)",
    ]
    assert outcome.plan.writes == 0  # bob is not silently matched to someone else
    assert outcome.report.users.personio_only == ["bob@example.com"]


def test_r8_override_to_an_archived_user_points_at_nobody() -> None:
    result = run(
        spec(userMappings=[mapping("bob@example.com", "bob@company.com")]),
        persons=[person("p1", "bob@example.com")],
        users=[user("u1", "bob@company.com", is_archived=True)],
    )
    assert result.matching.user_of == {}
    assert result.report.users.broken_mappings == [
        "bob@example.com -> bob@company.com (no awork user with that e-mail)"
    ]


def test_r8_override_onto_an_already_matched_user_makes_both_ambiguous_and_says_why() -> None:
    """Decision (docs/rules.md, R7/R8): the mapping is reported, not silently absorbed."""
    outcome = run(
        spec(userMappings=[mapping("erin@example.com", "anna@company.com")]),
        persons=[person("p1", "anna@company.com"), person("p2", "erin@example.com")],
        users=[user("u1", "anna@company.com")],
        periods=[period("a", "p1", *VACATION_APRIL), period("b", "p2", *VACATION_APRIL)],
    )
    report = outcome.report.users
    assert outcome.matching.user_of == {} and outcome.plan.writes == 0
    assert report.ambiguous == ["anna@company.com", "erin@example.com"]
    assert report.colliding_mappings == ["erin@example.com -> anna@company.com"]


def test_r7_plain_ambiguity_names_no_mapping() -> None:
    users = [user("u1", "anna@company.com", "anna@private.example")]
    persons = [person("p1", "anna@company.com"), person("p2", "anna@private.example")]
    report = match_users(persons, users).report
    assert len(report.ambiguous) == 2 and report.colliding_mappings == []
