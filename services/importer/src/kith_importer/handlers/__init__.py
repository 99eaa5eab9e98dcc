"""Handlers: about ten lines each, one domain call."""
