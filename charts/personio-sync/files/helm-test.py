# `helm test` (templates/tests/helm-test.yaml): the operator answers /healthz through its
# metrics Service, and the API server serves the PersonioSync CRD. Runs with the
# operator's image (Python, no curl) and ServiceAccount; standard library only. Each
# check says what it found; the first failure names what to look at.
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from typing import NoReturn

SA = "/var/run/secrets/kubernetes.io/serviceaccount"
DEADLINE = float(os.environ.get("TEST_DEADLINE_SECONDS", "60"))


def fail(message: str) -> NoReturn:
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def healthz(url: str) -> None:
    """Polls until 200 or the deadline: the operator may still be starting."""
    deadline, last = time.monotonic() + DEADLINE, "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    print(f"ok: {url} answered 200", flush=True)
                    return
                last = f"HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(2)
    fail(
        f"{url} did not answer 200 within {DEADLINE:.0f} s ({last}); "
        "kubectl logs and describe the operator's pods"
    )


def crd_served(group_version: str, plural: str) -> None:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    host = f"[{host}]" if ":" in host else host
    url = f"https://{host}:{os.environ['KUBERNETES_SERVICE_PORT']}/apis/{group_version}"
    with open(f"{SA}/token") as token:
        headers = {"Authorization": "Bearer " + token.read().strip()}
    context = ssl.create_default_context(cafile=f"{SA}/ca.crt")
    try:
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            listed = json.load(answer)
    except urllib.error.HTTPError as exc:
        fail(
            f"the API server answered HTTP {exc.code} for {group_version}: "
            "is the CRD installed (kubectl get crd)?"
        )
    except OSError as exc:
        fail(f"cannot reach the API server at {url}: {exc}")
    names = [r.get("name") for r in listed.get("resources", [])]
    if plural not in names:
        fail(f"the API server serves {group_version} without {plural} (it lists {names})")
    print(f"ok: the API server serves {plural}.{group_version}", flush=True)


url = os.environ.get("HEALTHZ_URL", "")
if url:
    healthz(url)
else:
    print(
        "skipped: /healthz (metrics.service.enabled is false: no Service to reach "
        "the operator through)",
        flush=True,
    )
crd_served(os.environ["CRD_GROUP_VERSION"], os.environ["CRD_PLURAL"])
