"""The kopf controller: watches PersonioSyncs, runs syncs on schedule, writes status."""
