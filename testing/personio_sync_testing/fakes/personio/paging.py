"""Personio v2 cursor paging: `limit` + opaque `cursor`, `_meta.links.self/next.href`.

The cursor is self-contained (it carries the filters and the last id served),
so a client that follows `next.href` — which holds only `cursor` and `limit`, as
in Personio's examples — gets the same filtered list. Paging by "after this id"
keeps pages stable when periods are added or removed between requests.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from personio_sync_testing.fakes.personio.problems import invalid_param

T = TypeVar("T")


def parse_limit(request: web.Request, *, default: int, maximum: int) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        limit = int(raw)
    except ValueError:
        invalid_param("limit")
    if not 1 <= limit <= maximum:
        invalid_param("limit")
    return limit


def encode_cursor(after: str, filters: dict[str, str]) -> str:
    raw = json.dumps({"a": after, "q": filters}, separators=(",", ":")).encode()
    return "cur_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, dict[str, str]]:
    try:
        if not cursor.startswith("cur_"):
            raise ValueError(cursor)
        body = cursor[4:]
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return str(data["a"]), {str(k): str(v) for k, v in data["q"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        invalid_param("cursor")


def filters_of(request: web.Request) -> tuple[str | None, dict[str, str]]:
    """(last id served or None, filter params) — from the cursor when there is one."""
    cursor = request.query.get("cursor")
    if cursor:
        return decode_cursor(cursor)
    return None, {k: v for k, v in request.query.items() if k not in ("limit", "cursor")}


def page(
    items: Sequence[T], ids: Sequence[str], after: str | None, limit: int
) -> tuple[Sequence[T], str | None]:
    """One page of id-sorted `items` after `after`; the id to continue after, or None at the end."""
    start = 0 if after is None else bisect.bisect_right(ids, after)
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return chunk, (ids[start + limit - 1] if more else None)


def envelope(
    request: web.Request,
    data: list[dict[str, Any]],
    next_after: str | None,
    filters: dict[str, str],
    limit: int,
    *,
    relative: bool,
) -> dict[str, Any]:
    base = "" if relative else f"{request.scheme}://{request.host}"
    links: dict[str, Any] = {"self": {"href": base + request.path_qs}}
    if next_after is not None:
        query = urlencode({"cursor": encode_cursor(next_after, filters), "limit": limit})
        links["next"] = {"href": f"{base}{request.path}?{query}"}
    return {"_data": data, "_meta": {"links": links}}
