"""How the awork client reads awork's answers: status checks, error bodies and list
parsing (private to clients/awork.py). Messages name the endpoint and awork's error code,
never a request body or the API key."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from personio_sync.clients._awork_models import ErrorResponse
from personio_sync.clients._http import Reply, Vendor, parse_model
from personio_sync.errors import (
    AworkAuthError,
    AworkRateLimited,
    AworkServerError,
    AworkStatusError,
    AworkTransportError,
    clip,
)

M = TypeVar("M", bound=BaseModel)

AWORK = Vendor(
    name="awork",
    transport_error=AworkTransportError,
    rate_limited=AworkRateLimited,
    status_error=AworkStatusError,
    server_error=AworkServerError,
)


def ends_with(suffix: str) -> str:
    literal = suffix.replace("'", "''")
    return f"endswith(externalProvider,'{literal}')"


def absence_path(absence_id: str) -> str:
    return "/absences/" + quote(absence_id, safe="")


def int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    return int(value) if value is not None and value.strip().isdigit() else None


def _error_response(reply: Reply) -> ErrorResponse:
    try:
        return ErrorResponse.model_validate(reply.body if isinstance(reply.body, dict) else {})
    except ValidationError:
        return ErrorResponse()


def auth_error(reply: Reply, names: str) -> AworkAuthError:
    """`names`: where the user keeps the key (the Secret key, or the CLI's variable)."""
    code = _error_response(reply).code
    detail = "HTTP 401" + (f", {clip(code, 40)}" if code else "")
    return AworkAuthError(
        f"awork rejected the API key ({detail}); check {names} (an API key of an awork API "
        "client whose user may manage absences)"
    )


def require_ok(reply: Reply, endpoint: str) -> None:
    if 200 <= reply.status < 300:
        return
    error = _error_response(reply)
    code = clip(error.code, 60) if error.code else None
    text = clip(error.text()) or "no details"
    raise AworkStatusError(
        f"awork answered {reply.status}{f' ({code})' if code else ''} for {endpoint}: {text}",
        reply.status,
        code,
    )


def parse_list(model: type[M], body: object, endpoint: str) -> list[M]:
    if not isinstance(body, list):
        raise AworkTransportError(f"awork answered {endpoint} with something other than a list")
    return [parse(model, item, endpoint) for item in body]


def parse(model: type[M], body: object, endpoint: str) -> M:
    return parse_model(AWORK, model, body, endpoint)
