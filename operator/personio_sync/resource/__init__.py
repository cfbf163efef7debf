"""The PersonioSync resource: spec and status models, the CRD, manifests (layer 4)."""
