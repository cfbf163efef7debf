"""awork error bodies: the OpenAPI `ErrorResponse` {code, description, link, details,
validationErrors, traceId}. awork answers 401 for missing rights too (no 403).
"""

from __future__ import annotations

import uuid
from typing import NoReturn

from aiohttp import web

from personio_sync_testing.fakes.server import VendorError

LINK = "https://developers.awork.com/error-handling"

DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid-model", "The request is invalid."),
    401: ("unauthorized", "The request is not authorized. Send a valid API key as Bearer token."),
    404: ("not-found", "There is no matching path for this URL."),
    405: ("invalid-operation", "This method is not allowed on this path."),
    429: ("too-many-requests", "The rate limit of the workspace is exceeded."),
    500: ("server-error", "An unexpected error occurred."),
    502: ("server-error", "The service is temporarily unavailable (bad gateway)."),
    503: ("server-error", "The service is temporarily unavailable."),
}


def error(
    status: int,
    code: str | None = None,
    description: str | None = None,
    *,
    details: list[str] | None = None,
    validation: list[dict[str, str]] | None = None,
) -> web.Response:
    default_code, default_description = DEFAULTS.get(status, DEFAULTS[500])
    body = {
        "code": code or default_code,
        "description": description or default_description,
        "link": LINK,
        "details": details or [],
        "validationErrors": validation or [],
        "traceId": uuid.uuid4().hex,
    }
    return web.json_response(body, status=status)


def fail(
    status: int,
    code: str | None = None,
    description: str | None = None,
    *,
    details: list[str] | None = None,
    validation: list[dict[str, str]] | None = None,
) -> NoReturn:
    raise VendorError(error(status, code, description, details=details, validation=validation))


def validation_failed(problems: list[tuple[str, str]]) -> NoReturn:
    fail(
        400,
        "validation-failed",
        "The model sent in the request is invalid. See the validation errors for details.",
        validation=[{"property": prop, "message": msg} for prop, msg in problems],
    )
