"""Developer and test tooling: a local Kubernetes control plane and ways to talk to it.

Not used by the operator at run time; the e2e suite, the operator's tests and
hack/demo.py share it so they all reach the cluster the same way.

- controlplane: LocalControlPlane, start/stop, up/down (`python -m ….controlplane up`)
- kube:         lightkube clients from a kubeconfig, PersonioSync, test-cluster guard
- kubectl:      Kubectl and Helm runners (explicit kubeconfig, stderr in the error)
- binaries:     binaries_dir (builds via hack/controlplane/build.sh), kubectl_path

Nothing is re-exported here, so `python -m personio_sync_testing.devtools.controlplane` runs
without importing itself twice.
"""
