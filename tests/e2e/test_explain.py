"""`kubectl explain` on the installed CRD shows defaults and ranges, as a user reads them."""

from __future__ import annotations

from personio_sync_testing.devtools.kubectl import CommandError, Kubectl
from personio_sync_testing.devtools.polling import eventually


def explain(kubectl: Kubectl, field: str) -> str:
    """The API server publishes a new CRD's OpenAPI a moment after it is established."""

    def attempt() -> str:
        try:
            return " ".join(kubectl("explain", field).split())
        except CommandError as exc:
            raise AssertionError(exc.stderr) from None

    return eventually(attempt, within=60, interval=0.5, what=f"kubectl explain {field}")


def test_kubectl_explain_shows_default_and_range(kubectl: Kubectl) -> None:
    assert "Default: 14. Range: 0 to 3650." in explain(kubectl, "personiosync.spec.window.pastDays")
    deletion = explain(kubectl, "personiosync.spec.deletionPolicy")
    assert "Default: Retain. One of: Retain, Delete." in deletion
