"""Personio v2 error bodies: `application/problem+json` shaped like the ErrorResponse
of personio-common-components-v2.json, plus the OAuth-style errors of the token endpoint.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import NoReturn

from aiohttp import web

from personio_sync_testing.fakes.server import VendorError

_TYPE = "https://developer.personio.de/reference/errors#"

# status -> (title, detail, code) used when only the status is known
DEFAULTS: dict[int, tuple[str, str, str]] = {
    400: ("Invalid request content", "The request is not valid.", "common.bad_request"),
    401: (
        "Unauthorized",
        "The access token is missing, invalid or expired.",
        "common.unauthorized",
    ),
    403: (
        "Insufficient access scope",
        "Client scope insufficient to access resource",
        "common.forbidden",
    ),
    404: (
        "Resource not found",
        "The requested resource was not found. The resource could have been deleted or never "
        "existed in our system.",
        "common.requested_resource_not_found",
    ),
    409: ("Conflict", "The resource already exists.", "common.conflict"),
    422: ("Unprocessable Entity", "The request could not be processed.", "common.unprocessable"),
    405: ("Method Not Allowed", "The method is not allowed here.", "common.method_not_allowed"),
    429: ("Too Many Requests", "Rate limit exceeded. Retry later.", "common.too_many_requests"),
    500: (
        "Internal Server Error",
        "There was a problem while processing this request. Please try again later.",
        "common.internal_server_error",
    ),
    502: (
        "Bad Gateway",
        "There was a problem while processing this request. Please try again later.",
        "common.bad_gateway",
    ),
    503: (
        "Service Unavailable",
        "There was a problem while processing this request. Please try again later.",
        "common.service_unavailable",
    ),
}


def problem(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    meta: dict[str, str] | None = None,
) -> web.Response:
    default_title, default_detail, code = DEFAULTS.get(status, DEFAULTS[500])
    body = {
        "personio_trace_id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "errors": [
            {
                "title": title or default_title,
                "detail": detail or default_detail,
                "type": _TYPE + code,
                "_meta": meta or {},
            }
        ],
    }
    return web.json_response(body, status=status, content_type="application/problem+json")


def fail(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    meta: dict[str, str] | None = None,
) -> NoReturn:
    raise VendorError(problem(status, detail, title=title, meta=meta))


def invalid_param(name: str) -> NoReturn:
    fail(400, f"Provided value for {name} is not valid")


def oauth_error(status: int, error: str, description: str) -> NoReturn:
    """The token endpoint answers OAuth 2.0 style (RFC 6749 §5.2), never echoing the secret."""
    body = {"error": error, "error_description": description}
    raise VendorError(web.json_response(body, status=status))
