"""Alembic's environment: migrations run on the connection `engine.stores.migrate` passes in
`config.attributes["connection"]`, inside the transaction (and lock) it holds. There is no
alembic.ini: the configuration is built in code."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from engine.stores.schema import metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "the tracker store's migrations run through engine.stores.migrate "
            "(python -m engine.stores.migrate [URL]), not the alembic command alone"
        )
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run()
