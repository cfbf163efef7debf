"""Personio webhooks: the event catalogue, the receiver, its tokens, self-registration."""
