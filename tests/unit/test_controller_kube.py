"""R19: finalizer patches are exact and guarded against concurrent writers."""

from __future__ import annotations

from typing import Any

from personio_sync.clients.kube import finalizer_patch
from personio_sync.controller.context import FINALIZER
from personio_sync.controller.loop.worker import is_newer


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


def test_late_watch_events_do_not_replace_a_newer_body() -> None:
    newer = {"metadata": {"resourceVersion": "120"}}
    older = {"metadata": {"resourceVersion": "99"}}
    assert not is_newer(older, newer)
    assert is_newer(newer, older)
    assert is_newer({"metadata": {"resourceVersion": "opaque"}}, newer)
