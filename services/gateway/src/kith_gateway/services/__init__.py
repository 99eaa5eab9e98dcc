"""Use cases: transaction boundary, rules and outbox writes; routes call exactly one each."""
