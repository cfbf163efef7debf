"""R19: finalizer and annotation patches are exact and guarded against stale writes."""

from __future__ import annotations

from typing import Any

from personio_sync.controller.context import FINALIZER, SYNC_NOW_HANDLED
from personio_sync.controller.kube import annotation_ops, finalizer_ops
from personio_sync.controller.worker import is_newer


def body(finalizers: list[str] | None = None, annotations: dict[str, str] | None = None) -> Any:
    meta: dict[str, Any] = {"name": "team", "resourceVersion": "41"}
    if finalizers is not None:
        meta["finalizers"] = finalizers
    if annotations is not None:
        meta["annotations"] = annotations
    return {"metadata": meta}


GUARD = {"op": "test", "path": "/metadata/resourceVersion", "value": "41"}


def test_r19_adds_the_finalizer_when_there_are_none() -> None:
    assert finalizer_ops(body(), FINALIZER, True) == [
        GUARD,
        {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
    ]


def test_r19_appends_next_to_foreign_finalizers() -> None:
    ops = finalizer_ops(body(["other/keep"]), FINALIZER, True)
    assert ops[1] == {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER}


def test_r19_removes_only_ours_by_index() -> None:
    ops = finalizer_ops(body(["a/x", FINALIZER, "b/y"]), FINALIZER, False)
    assert ops == [GUARD, {"op": "remove", "path": "/metadata/finalizers/1"}]


def test_r19_no_patch_when_already_right() -> None:
    assert finalizer_ops(body([FINALIZER]), FINALIZER, True) == []
    assert finalizer_ops(body(["a/x"]), FINALIZER, False) == []


def test_annotation_key_with_slash_is_escaped() -> None:
    ops = annotation_ops(body(annotations={"x": "y"}), SYNC_NOW_HANDLED, "17")
    path = "/metadata/annotations/personio-sync.dev~1sync-now-handled"
    assert ops == [{"op": "add", "path": path, "value": "17"}]
    first = annotation_ops(body(), SYNC_NOW_HANDLED, "17")
    assert first == [{"op": "add", "path": "/metadata/annotations",
                      "value": {SYNC_NOW_HANDLED: "17"}}]  # fmt: skip


def test_late_watch_events_do_not_replace_a_newer_body() -> None:
    newer = {"metadata": {"resourceVersion": "120"}}
    older = {"metadata": {"resourceVersion": "99"}}
    assert not is_newer(older, newer)
    assert is_newer(newer, older)
    assert is_newer({"metadata": {"resourceVersion": "opaque"}}, newer)
