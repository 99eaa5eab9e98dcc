"""Message handlers, one module per subject family; `app.py` binds them to their consumers."""
