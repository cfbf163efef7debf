"""One sync of one resource: read both systems, plan with the engine, apply (layer 3)."""
