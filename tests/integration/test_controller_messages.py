"""UX-14 / UX-16: what a real full run of the demo company leaves on the resource, its
conditions and the Events it posts, against the fake vendors over HTTP.

The run is the controller's own (`runs.full.sync`: the Secret read, the vendor clients,
the runner, the status write); the API server is controller_helpers' in-memory one.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from controller_helpers import NOW, ApiServer, kube_on
from runner_helpers import DEMO, TODAY, fast_clients

from personio_sync.controller.context import Context
from personio_sync.controller.runs import full
from personio_sync.controller.runs.inputs import SecretSeen
from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.view import ResourceView
from personio_sync.engine.window import sync_window
from personio_sync.errors import AworkError, PersonioError, SyncError
from personio_sync.sync.runner import read_snapshot
from personio_sync_testing.fakes import Sandbox

Posted = list[tuple[str, str, str]]
Run = Callable[..., Any]


@pytest.fixture
async def run_once(demo: Sandbox) -> AsyncIterator[Run]:
    """`await run_once(**spec)`: one full run of the demo company with these spec fields;
    returns (conditions by type, the Events posted)."""
    closers = []

    async def run(**spec: Any) -> tuple[dict[str, dict[str, Any]], Posted]:
        server = ApiServer()
        server.body["spec"] = {"secretRef": {"name": "acme-credentials"}, **spec}
        server.body["metadata"]["finalizers"] = []
        posted: Posted = []
        settings = OperatorSettings(
            personio_api_url=demo.personio_url, awork_api_url=demo.awork_url
        )
        ctx = Context(
            settings=settings,
            kube=kube_on(server),
            now=lambda: NOW,
            event=lambda _, kind, reason, message: posted.append((kind, reason, message)),
        )
        closers.append(ctx.kube.close)
        await full.sync(ctx, ResourceView.of(copy.deepcopy(server.body)), SecretSeen())
        return {c["type"]: c for c in server.body["status"]["conditions"]}, posted

    yield run
    for close in closers:
        await close()


def readable(demo: Sandbox, *, email: bool) -> None:
    demo.personio_state.put_credential(
        {"client_id": DEMO.personio_client_id, "client_secret": DEMO.personio_client_secret,
         "email_readable": email}
    )  # fmt: skip


def warnings(posted: Posted) -> dict[str, str]:
    return {reason: message for kind, reason, message in posted if kind == "Warning"}


async def test_ux_14_one_person_without_email_gets_the_partial_fix(
    demo: Sandbox, run_once: Run
) -> None:
    """The demo company has one person without an e-mail (the issue's 1 of 6)."""
    conds, posted = await run_once()
    personio = conds["PersonioCredentialsValid"]
    assert (personio["status"], personio["reason"]) == ("True", "EmailPartlyReadable")
    assert warnings(posted) == {"EmailPartlyReadable": personio["message"]}
    assert personio["message"].startswith("1 Personio person has no readable e-mail")
    assert "give them an e-mail in Personio" in personio["message"]
    assert "1 people" not in str(posted)


async def test_ux_14_no_email_readable_gets_the_attribute_fix(demo: Sandbox, run_once: Run) -> None:
    readable(demo, email=False)
    conds, posted = await run_once()
    personio = conds["PersonioCredentialsValid"]
    assert (personio["status"], personio["reason"]) == ("False", "PersonioEmailNotReadable")
    assert warnings(posted) == {"PersonioEmailNotReadable": personio["message"]}
    assert "none with an e-mail address" in personio["message"]
    assert "'Email' readable" in personio["message"]


async def test_ux_16_an_unknown_absence_type_leaves_the_credentials_accepted(
    run_once: Run,
) -> None:
    """Personio answered (its types are in the message): the credentials are proven and
    the fault is the spec's, on Ready and Synced."""
    conds, posted = await run_once(absenceTypes={"include": ["Sabbatical leave"]})
    for kind in ("Ready", "Synced"):
        assert (conds[kind]["status"], conds[kind]["reason"]) == ("False", "InvalidConfiguration")
    message = conds["Ready"]["message"]
    assert "spec.absenceTypes.include: 'Sabbatical leave'" in message and "known:" in message
    for kind in ("PersonioCredentialsValid", "AworkCredentialsValid"):
        assert (conds[kind]["status"], conds[kind]["reason"]) == ("True", "CredentialsAccepted")
    assert warnings(posted) == {"InvalidConfiguration": message}


@pytest.mark.parametrize(
    ("vendor", "path", "error", "answered"),
    [
        ("personio", "/v2/absence-periods", PersonioError, {"personio", "awork"}),
        ("personio", "/v2/auth/token", PersonioError, {"awork"}),
        ("awork", "/absences", AworkError, {"personio", "awork"}),
        ("awork", "/users", AworkError, {"personio", "awork"}),
    ],
)
async def test_ux_16_a_failed_read_names_the_vendors_that_answered(
    demo: Sandbox, vendor: str, path: str, error: type[SyncError], answered: set[str]
) -> None:
    """A vendor that answered one read accepted the credential, even if another read of
    it failed; one whose token request failed answered nothing."""
    fake = demo.personio if vendor == "personio" else demo.awork
    fake.inject({"kind": "drop", "path_prefix": path})
    async with fast_clients(demo) as clients:
        with pytest.raises(error) as caught:
            await read_snapshot(clients, sync_window(TODAY, 14, 180))
    assert caught.value.answered == answered
