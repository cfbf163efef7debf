"""R19: finalizer patches are exact and guarded against concurrent writers; a late watch
event never replaces a newer body."""

from __future__ import annotations

from typing import Any

from personio_sync.clients.kube import finalizer_patch
from personio_sync.controller.context import FINALIZER
from personio_sync.controller.view import ResourceView


def body(finalizers: list[str] | None = None) -> Any:
    meta: dict[str, Any] = {"name": "team", "resourceVersion": "41"}
    if finalizers is not None:
        meta["finalizers"] = finalizers
    return {"metadata": meta}


def patched(finalizers: list[str]) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": "41", "finalizers": finalizers}}


def test_r19_adds_the_finalizer_when_there_are_none() -> None:
    assert finalizer_patch(body(), FINALIZER, True) == patched([FINALIZER])


def test_r19_keeps_foreign_finalizers_when_adding_and_removing() -> None:
    assert finalizer_patch(body(["other/keep"]), FINALIZER, True) == patched(
        ["other/keep", FINALIZER]
    )
    assert finalizer_patch(body(["a/x", FINALIZER, "b/y"]), FINALIZER, False) == patched(
        ["a/x", "b/y"]
    )


def test_r19_no_patch_when_already_right() -> None:
    assert finalizer_patch(body([FINALIZER]), FINALIZER, True) is None
    assert finalizer_patch(body(["a/x"]), FINALIZER, False) is None


def view(version: str) -> ResourceView:
    return ResourceView.of({"metadata": {"resourceVersion": version}})


def test_late_watch_events_do_not_replace_a_newer_body() -> None:
    newer, older = view("120"), view("99")
    assert not older.newer_than(newer)
    assert newer.newer_than(older)
    assert view("opaque").newer_than(newer)


def test_sec_1_the_echo_of_our_own_write_is_no_news() -> None:
    """The watch delivers the body a write already returned: same version, no wake-up."""
    assert not view("120").newer_than(view("120"))
