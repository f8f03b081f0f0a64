"""Alembic's environment: run the migrations on the connection the record opened (inside its transaction)."""

from __future__ import annotations

from alembic import context

from mesogun.record.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the record's migrations run on a connection: mesogun.record.migrations.upgrade(connection)")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
