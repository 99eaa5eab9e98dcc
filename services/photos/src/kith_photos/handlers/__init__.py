"""Message handlers: one module per subject family, each a few lines around a domain call."""
