"""Alembic migrations of the tracker store's tables, run by `engine.stores.migrate`."""
