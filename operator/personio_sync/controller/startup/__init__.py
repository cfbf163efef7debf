"""Start-up: kopf's entry, its handlers (which build everything), its login, /healthz."""
