"""UX-10: the operator says at start which namespaces it serves, so a PersonioSync that
never gets a status points at the operator's scope, not at a silent bug."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.harness import OperatorProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def logged(operator: OperatorProcess, line: str) -> bool:
    return line in operator.log_path.read_text(errors="replace")


@pytest.mark.parametrize("scoped", [True, False], ids=["namespaced", "cluster-wide"])
def test_ux_10_the_operator_logs_the_namespaces_it_serves(
    namespace: str, start_operator: Callable[..., OperatorProcess], scoped: bool
) -> None:
    operator = start_operator(*([namespace] if scoped else []))
    served = f"namespaces {namespace} only" if scoped else "every namespace"
    line = f"serving PersonioSync resources in {served}"
    eventually(lambda: logged(operator, line), within=30, what=f"the log line {line!r}")
