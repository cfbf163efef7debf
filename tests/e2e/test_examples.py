"""UX-2: the manifests in examples/ apply on a real API server as printed (only the
namespace is the test's), and the API server keeps every field as the operator reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from lightkube import Client

from personio_sync.resource.spec import KIND, parse_spec
from personio_sync_testing.devtools.kube import PersonioSync
from personio_sync_testing.devtools.kubectl import Kubectl

pytestmark = pytest.mark.e2e

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_ux_2_every_example_applies_as_printed(
    kubectl: Kubectl, kube_api: Client, namespace: str, path: Path
) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    for doc in docs:
        assert doc["metadata"]["namespace"] == "hr", "the README's namespace"
        doc["metadata"]["namespace"] = namespace
    kubectl.apply(yaml.safe_dump_all(docs))  # strict field validation: no field dropped
    for doc in (d for d in docs if d["kind"] == KIND):
        stored = kube_api.get(PersonioSync, doc["metadata"]["name"], namespace=namespace)
        expected = parse_spec(doc["spec"]).model_dump(mode="json", exclude_none=True)
        assert stored["spec"] == expected
