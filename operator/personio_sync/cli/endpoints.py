"""Which vendor URLs `personio-sync sync` talks to, and where they came from.

The CLI runs against the real Personio and awork unless told otherwise, so it says so
before the first request (UX-4): a forgotten PERSONIO_API_URL is then one glance away,
not a 38-second wait for an "unreachable" error.
"""

from __future__ import annotations

from collections.abc import Mapping

from personio_sync.controller.settings import plain_http_problem
from personio_sync.errors import ConfigError
from personio_sync.sync.config import DEFAULT_AWORK_URL, DEFAULT_PERSONIO_URL, Endpoints

INSECURE = "PERSONIO_SYNC_INSECURE_HTTP"
# (vendor, variable, default): the variables `sync --help` and the start line name.
URL_VARIABLES = (
    ("Personio", "PERSONIO_API_URL", DEFAULT_PERSONIO_URL),
    ("awork", "AWORK_API_URL", DEFAULT_AWORK_URL),
)

ENVIRONMENT_HELP = f"""environment:
  PERSONIO_API_URL    Personio's base URL (default {DEFAULT_PERSONIO_URL})
  AWORK_API_URL       awork's base URL (default {DEFAULT_AWORK_URL})
  {INSECURE}=true
                      allow plain http:// URLs beyond 127.0.0.1/localhost (https only otherwise)
  PERSONIO_CLIENT_ID, PERSONIO_CLIENT_SECRET, AWORK_API_KEY
                      the credentials, when --secret is not given

Before the first request the command prints, on stderr, which URLs it talks to and
whether each came from its variable or is the default (the real vendor)."""


def endpoints_from(environ: Mapping[str, str]) -> tuple[Endpoints, str]:
    """The URLs to use and the line saying where they came from; https only unless allowed
    (as for the operator)."""
    allowed = environ.get(INSECURE, "").lower() in ("1", "true", "yes")
    urls, said = [], []
    for vendor, variable, default in URL_VARIABLES:
        url = (environ.get(variable) or "").strip().rstrip("/")
        origin = f"from {variable}" if url else f"the default; {variable} is not set"
        url = url or default
        problem = plain_http_problem(url, allowed=allowed)
        if problem:
            raise ConfigError(f"{variable}: {problem}")
        urls.append(url)
        said.append(f"{vendor} at {url} ({origin})")
    return Endpoints(personio_url=urls[0], awork_url=urls[1]), "talking to " + ", ".join(said)
