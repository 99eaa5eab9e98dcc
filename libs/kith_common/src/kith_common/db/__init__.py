"""The database: typed models (`models`), engine and sessions (`session`), and the Alembic
history (`migrations`, applied by `migrate.migrate`)."""

from kith_common.db.session import create_engine, session_factory

__all__ = ["create_engine", "session_factory"]
