"""HOOK-14: which Personio webhook a resource may update or delete, decided on its
description (the mark) and, for the upgrade only, the older versions' description plus
a URL ending in the resource's own /<namespace>/<name>."""

from __future__ import annotations

import pytest

from personio_sync.clients.personio import RegisteredWebhook
from personio_sync.controller.webhooks.registration import LEGACY_DESCRIPTION, Owner, redacted

OURS = Owner("0123456789ab", "hr", "acme")
URL = "https://hooks.example.com/webhooks/personio/hr/acme"


def hook(description: str, url: str = URL) -> RegisteredWebhook:
    return RegisteredWebhook("h-1", url, True, frozenset(), description)


@pytest.mark.parametrize(
    ("description", "ours"),
    [
        ("personio-sync:0123456789ab hr/acme", True),
        ("personio-sync:0123456789ab", True),
        ("personio-sync:0123456789ab   renamed in Personio's UI", True),
        ("personio-sync:0123456789abc hr/acme", False),  # another key that starts alike
        ("personio-sync:ffffffffffff hr/acme", False),  # another resource or installation
        ("made by hand personio-sync:0123456789ab", False),  # the mark must come first
        ("Personio-Sync:0123456789AB hr/acme", False),
        (LEGACY_DESCRIPTION, False),
        ("", False),
    ],
)
def test_hook_14_the_mark_is_the_descriptions_first_word_exactly(
    description: str, ours: bool
) -> None:
    assert OURS.marked(hook(description)) is ours
    assert OURS.description.split()[0] == "personio-sync:0123456789ab"


@pytest.mark.parametrize(
    ("description", "url", "ours"),
    [
        (LEGACY_DESCRIPTION, "https://old.example/hooks/hr/acme", True),
        (LEGACY_DESCRIPTION, "https://old.example/hooks/hr/acme/", True),
        (LEGACY_DESCRIPTION, "https://old.example/webhooks/personio/team-a/acme", False),
        (LEGACY_DESCRIPTION, "https://old.example/webhooks/personio/xhr/acme", False),
        (LEGACY_DESCRIPTION, "https://old.example/hr/acme?to=elsewhere", True),  # path only
        ("personio-sync hr/acme", "https://old.example/hooks/hr/acme", False),
        ("", "https://old.example/hooks/hr/acme", False),
    ],
)
def test_hook_14_an_older_versions_webhook_needs_its_description_and_this_resources_path(
    description: str, url: str, ours: bool
) -> None:
    assert OURS.registered_before(hook(description, url)) is ours


def test_r21_a_registration_error_that_echoes_the_token_never_shows_it() -> None:
    """The create and update requests carry the token; an answer quoting what it was sent
    (a proxy, a validation message) reaches status and Events without it."""
    token = "hook-token-6f1d2a-0123456789abcdef"
    echoed = f'Personio POST /v2/webhooks: 422 {{"token": "{token}", "error": "bad url"}}'
    assert token not in redacted(echoed, token) and "[redacted]" in redacted(echoed, token)
    assert redacted("422 bad url", "") == "422 bad url"
