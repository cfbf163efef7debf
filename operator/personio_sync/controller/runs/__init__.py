"""The runs of one resource: full, targeted (and quick polls), clean-up, and their inputs."""
