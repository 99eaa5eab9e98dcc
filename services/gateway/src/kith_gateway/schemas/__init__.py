"""Pydantic request and response models at the edge; never ORM objects in a response."""
