"""The indexes a session summary and a patient's history need at a clinic's scale (issue 14 item 9): a visit's
connections (``sessions.visit_id``, which every part of the summary starts from), a course's sessions
(``visits.course_id``: the session's number in its course), and a connection's CLI override notes and alarms found
at a connect (``notes.session_id``, ``alarms_found.session_id``). Without them each summary scanned ``sessions``
seven times and ``visits`` once: on a record of 1,000,000 shots in 10,000 visits a summary took 21 ms on SQLite
and 34 ms on PostgreSQL, a history (ten summaries) 0.20 and 0.31 s; with them 6-10 and 14-16 ms, 70-150 ms.

The tables indexed hold a row per connection, visit, note or alarm, never one per shot: building the indexes on an
existing record takes moments.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = (
    ("sessions_by_visit", "sessions", "visit_id"),
    ("visits_by_course", "visits", "course_id"),
    ("notes_by_session", "notes", "session_id"),
    ("alarms_found_by_session", "alarms_found", "session_id"),
)
"""(name, table, column) of each index."""


def upgrade() -> None:
    """Create the indexes."""
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    """Drop them (only for development)."""
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
