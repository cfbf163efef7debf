"""What the operator shows: `.status` and its conditions, Events, metrics."""
