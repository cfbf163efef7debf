"""What tests, the demo and the benchmark need, and the product must not ship: fake
Personio and awork servers, a local control plane, the operator test harness.

A distribution of its own (testing/pyproject.toml), installed by `make`, never by the
image; it adds the `personio-sync sandbox` command through an entry point.
"""
