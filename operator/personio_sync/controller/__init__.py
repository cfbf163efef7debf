"""The operator: watches PersonioSyncs, runs their syncs on schedule, writes status.

One room per concern (docs/architecture.md): `startup` (kopf's entry and handlers),
`loop` (one worker per resource), `webhooks`, `runs`, `reporting`, over the shared
`context`, `writes`, `view`, `schedule`, `leadership` and `settings`.
"""
