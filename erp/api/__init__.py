"""API conventions shared by every app: auth, errors, pagination, scoping, idempotency."""
