"""The per-resource loop: the supervisor, one worker per PersonioSync, its slots."""
