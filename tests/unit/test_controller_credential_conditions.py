"""UX-16: a vendor that answered the run accepted its credential, whatever failed after.

The runner marks each error with the vendors that had answered (`SyncError.answered`,
pinned in tests/integration/test_controller_messages.py); the credential conditions
read it, so an error raised after Personio answered (an unknown absence type, periods
without types, awork failing) never makes PersonioCredentialsValid Unknown "not checked".
"""

from __future__ import annotations

import pytest

from personio_sync.controller.reporting.conditions import for_error
from personio_sync.errors import (
    AworkTransportError,
    ConfigError,
    PersonioAuthError,
    PersonioDataIncomplete,
    PersonioTransportError,
    RunTimedOut,
    SyncError,
)


def answered(error: SyncError, *vendors: str) -> SyncError:
    error.answered = frozenset(vendors)
    return error


def states(error: SyncError) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in for_error(error)}


ACCEPTED = ("True", "CredentialsAccepted")
CASES: list[tuple[SyncError, tuple[str, str], tuple[str, str]]] = [
    # error (and who answered), PersonioCredentialsValid, AworkCredentialsValid
    (answered(ConfigError("spec.absenceTypes.include: 'x' matches no type"), "personio", "awork"),
     ACCEPTED, ACCEPTED),
    (answered(PersonioDataIncomplete("periods but no types"), "personio", "awork"),
     ACCEPTED, ACCEPTED),
    (answered(PersonioTransportError("timeout"), "awork"),
     ("Unknown", "PersonioUnreachable"), ACCEPTED),
    (answered(PersonioTransportError("timeout on periods"), "personio", "awork"),
     ACCEPTED, ACCEPTED),
    (answered(PersonioAuthError("rejected"), "awork"),
     ("False", "PersonioCredentialsRejected"), ACCEPTED),
    (PersonioTransportError("timeout"), ("Unknown", "PersonioUnreachable"),
     ("Unknown", "NotChecked")),
    (AworkTransportError("timeout"), ACCEPTED, ("Unknown", "AworkUnreachable")),
    (ConfigError("bad setting"), ("Unknown", "NotChecked"), ("Unknown", "NotChecked")),
    (RunTimedOut("too long"), ("Unknown", "NotChecked"), ("Unknown", "NotChecked")),
]  # fmt: skip


@pytest.mark.parametrize(("error", "personio", "awork"), CASES)
def test_ux_16_credential_conditions_follow_who_answered(
    error: SyncError, personio: tuple[str, str], awork: tuple[str, str]
) -> None:
    got = states(error)
    assert got["PersonioCredentialsValid"] == personio
    assert got["AworkCredentialsValid"] == awork
    assert got["Ready"] == got["Synced"] == ("False", error.reason)
