"""The accounts store: users and their PIN hashes, sign-in sessions, and the audit trail, in one SQLite file.

SQLAlchemy Core on SQLite; the tables are created with ``metadata.create_all`` when the store opens (Alembic
migrations come with the first schema change). One :class:`Accounts` serves every request thread of the
service: each call takes its own pooled connection, and a counter that several requests could change at once
(failed sign-ins) is changed by one ``UPDATE`` in SQL, not read and written back.

The audit trail is hash-chained as the treatment record's audit log is (the same columns, the same
:func:`~mesogun.record.audit.append_audit` and append-only triggers, verified by the same
:func:`~mesogun.record.audit_verify.verify_log`: :meth:`Accounts.verify`, ``mesogun users verify``). Every change
of a user and every sign-in commits in one transaction with its entry, taken under the file's write lock (``BEGIN
IMMEDIATE``), so a change whose entry cannot be written is not made. The trail of an older store (its unchained
``audit`` table) is carried into the chain once, when the store first opens with this version.

What is never stored: a PIN (only its argon2id hash, from argon2-cffi) and a session token (only its SHA-256:
a copy of the file signs nobody in). There are no built-in users: a new store is empty.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError

from mesogun.i18n import N_
from mesogun.record import schema as record_schema
from mesogun.record.audit import SQLITE_APPEND_ONLY, append_audit
from mesogun.record.audit_verify import AuditLog, ChainReport, Head, verify_log
from mesogun.record.causes import worded_cause
from mesogun.wording import Wording
from mesogun_service.accounts.errors import AccountsUnavailable, Forbidden, LockedOut, Unauthenticated, UserError
from mesogun_service.accounts.identity import Principal, Role, Via

Clock = Callable[[], datetime]
"""Where the store's time comes from: a callable returning an aware datetime (tests pass a fake one)."""

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_NAME = 64
MIN_PIN = 4
MAX_PIN = 128
MAX_TOKEN = 256
"""A presented token longer than this is refused without a look-up (ours are 43 characters)."""
WRONG_CREDENTIALS = "unknown user or wrong PIN"
"""The one message for an unknown user and a wrong PIN, so a failed sign-in does not tell which names exist."""


def utc_now() -> datetime:
    """The default clock: now, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """The access-control limits; the defaults are docs/service.md's."""

    idle: timedelta = timedelta(minutes=15)
    """A session unused this long has expired."""
    absolute: timedelta = timedelta(hours=12)
    """A session ends this long after its sign-in, used or not."""
    fresh: timedelta = timedelta(minutes=5)
    """A re-authentication allows technician operations for this long."""
    max_failures: int = 5
    """This many failed sign-ins in a row lock the user out..."""
    lockout: timedelta = timedelta(minutes=5)
    """...for this long (or until an admin unlocks them)."""


class _UtcIso(TypeDecorator[datetime]):
    """An aware datetime stored as UTC ISO-8601 text (``2025-01-31T08:00:00.000000+00:00``), read back aware."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else _utc(value).isoformat(timespec="microseconds")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))


metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(MAX_NAME), nullable=False, unique=True),
    Column("roles", String(100), nullable=False),  # comma-separated Role values, sorted
    Column("pin_hash", String(200), nullable=False),  # argon2id, with its parameters and salt
    Column("failed_count", Integer, nullable=False, default=0),  # failed sign-ins since the last success or lock
    Column("locked_until", _UtcIso, nullable=True),
    Column("created", _UtcIso, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the token; never the token
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created", _UtcIso, nullable=False),
    Column("last_used", _UtcIso, nullable=False),
    Column("expires_at", _UtcIso, nullable=False),  # absolute end
    Column("idle_timeout_s", Integer, nullable=False),
    Column("fresh_until", _UtcIso, nullable=True),
    Column("csrf_token", String(64), nullable=False),  # useless without the session cookie, which is not stored
    Column("revoked_at", _UtcIso, nullable=True),
)

audit_log = record_schema.audit_log.to_metadata(metadata)
"""The audit trail: the treatment record's ``audit_log`` table, hash-chained alike (each entry's ``new_value``
holds its ``outcome`` and the client's ``remote`` address with what changed)."""

legacy_audit = Table(
    "audit",
    MetaData(),  # not created: only read, in a store made before the trail was chained
    Column("id", Integer, primary_key=True),
    Column("ts", _UtcIso, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("remote", String(64), nullable=True),
    Column("outcome", String(16), nullable=False),
)
"""The unchained trail of an older store, carried into :data:`audit_log` once (and left as it was)."""

USER = "user"
REQUEST = "request"
"""The entities of the trail: a user (managed, signed in or refused; ``entity_id`` the name) and a request to the
service (``entity_id`` its method and path)."""


@dataclass(frozen=True)
class UserInfo:
    """One user as ``mesogun users list`` shows them (never the hash)."""

    name: str
    roles: frozenset[Role]
    created: datetime
    failed_count: int
    locked_until: datetime | None
    disabled: bool


@dataclass(frozen=True)
class NewSession:
    """What a sign-in gives: the bearer ``token`` and the ``csrf_token`` (shown once, never stored in clear for the
    token), and the session's :class:`Principal`."""

    token: str
    csrf_token: str
    principal: Principal

    def __repr__(self) -> str:
        return f"NewSession(principal={self.principal!r})"


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit trail: who (``actor``) did what (``action``, ``detail``) to whom or what
    (``entity_id``: a user's name, a request's method and path) from where, and how it ended (``outcome``: ``ok``,
    ``failed``, ``refused``, ``denied``), as entry ``seq`` of the chain."""

    ts: datetime
    actor: str
    action: str
    detail: str
    remote: str | None
    outcome: str
    seq: int = 0
    entity_id: str = ""


def token_hash(token: str) -> str:
    """The SHA-256 (hex) under which a session token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    """A user name: 1–64 letters, digits, ``.``, ``_`` or ``-``, starting with a letter or digit."""
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(
            f"name {name[:MAX_NAME]!r} is not a user name: 1–{MAX_NAME} letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="name",
            value=name[:MAX_NAME],
        )
    return name


def check_pin(pin: str) -> str:
    """A PIN or password: at least 4 and at most 128 characters (digits or any others); never repeated in errors."""
    if len(pin) < MIN_PIN:
        raise UserError(f"pin is too short: {len(pin)} characters; at least {MIN_PIN} (digits or others)", field="pin")
    if len(pin) > MAX_PIN:
        raise UserError(f"pin is too long: {len(pin)} characters; at most {MAX_PIN}", field="pin")
    return pin


def check_roles(roles: Iterable[Role | str]) -> frozenset[Role]:
    """At least one role, each a :class:`Role`."""
    checked: set[Role] = set()
    for role in roles:
        try:
            checked.add(Role(role))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise UserError(f"role {role!r} is not a role: one of {known}", field="role", value=str(role)) from None
    if not checked:
        raise UserError("a user needs at least one role (practitioner, technician or admin)", field="role")
    return frozenset(checked)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def span_text(duration: timedelta) -> str:
    """``15 min``, ``12 h``, ``90 s``: a limit as messages say it."""
    seconds = int(duration.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _roles_text(roles: frozenset[Role]) -> str:
    return ",".join(sorted(role.value for role in roles))


def _roles_of(text: str) -> frozenset[Role]:
    return frozenset(Role(part) for part in text.split(",") if part)


class Accounts:
    """The users, sessions and audit trail of one service, in the SQLite file at ``path``.

    Sign-in: :meth:`authenticate` (name and PIN → :class:`NewSession`), :meth:`session_for` (token →
    :class:`Principal`), :meth:`reauth`, :meth:`logout`. Users: :meth:`add_user`, :meth:`remove_user`,
    :meth:`set_pin`, :meth:`unlock`, :meth:`list_users`. Every sign-in, failure, lock-out and change of a user is
    entered in the audit trail (:meth:`audit`, :meth:`audit_trail`). ``clock`` gives the time (tests pass a fake),
    ``hasher`` the argon2 parameters (a hash made with other parameters is redone at the next sign-in).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Clock = utc_now,
        hasher: PasswordHasher | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.limits = limits or Limits()
        self._hasher = hasher or PasswordHasher()
        if not self.path.parent.is_dir():
            raise AccountsUnavailable(
                Wording(N_("cannot open the accounts store {path}: its folder does not exist"), path=str(self.path))
            )
        self._engine = create_engine(
            f"sqlite+pysqlite:///{self.path}", connect_args={"timeout": 5.0, "check_same_thread": False}
        )
        event.listen(self._engine, "connect", _sqlite_settings)
        new = not self.path.exists()
        try:
            chained = self._has_chain()
            metadata.create_all(self._engine)
            if not chained:  # once, as the record's migration does (triggers dropped later stay dropped: verify says)
                with self._writing() as db:
                    for statement in SQLITE_APPEND_ONLY:
                        db.exec_driver_sql(statement)
                    self._carry_over(db)
        except AccountsUnavailable:
            self._engine.dispose()
            raise
        except SQLAlchemyError as exc:
            self._engine.dispose()
            cause = getattr(exc, "orig", None) or exc  # the driver's own message, without SQLAlchemy's SQL and URL
            raise AccountsUnavailable(
                Wording(
                    N_("cannot open the accounts store {path}: {cause}"),
                    path=str(self.path),
                    cause=worded_cause(exc, str(cause)),
                )
            ) from exc
        if new:
            self.path.chmod(0o600)  # PIN hashes and the audit trail: the service's user only

    def close(self) -> None:
        """Close the store's connections."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def now(self) -> datetime:
        """The store's time (its clock's, in UTC)."""
        return _utc(self.clock())

    # ------------------------------------------------------------------------------------------------ users

    def add_user(
        self, name: str, roles: Iterable[Role | str], pin: str, *, actor: str, remote: str | None = None
    ) -> UserInfo:
        """Add the user ``name`` with ``roles`` and ``pin``; :class:`UserError` if the name is taken or an input
        breaks its policy (:func:`check_name`, :func:`check_roles`, :func:`check_pin`)."""
        check_name(name)
        role_set = check_roles(roles)
        pin_hash = self._hasher.hash(check_pin(pin))
        now = self.now()
        with self._writing() as db:
            if db.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
                raise UserError(f"user {name!r} already exists", field="name", value=name)
            db.execute(
                insert(users).values(
                    name=name, roles=_roles_text(role_set), pin_hash=pin_hash, failed_count=0, created=now
                )
            )
            self._audit(
                db,
                actor,
                "user_add",
                f"{name} ({_roles_text(role_set)})",
                remote,
                "ok",
                subject=name,
                new={"roles": _roles_text(role_set)},
            )
        return UserInfo(name, role_set, now, 0, None, False)

    def remove_user(self, name: str, *, actor: str, remote: str | None = None) -> None:
        """Remove the user ``name`` and end their sessions."""
        with self._writing() as db:
            user_id = self._user_id(db, name)
            roles = db.execute(select(users.c.roles).where(users.c.id == user_id)).scalar_one()
            db.execute(delete(auth_sessions).where(auth_sessions.c.user_id == user_id))
            db.execute(delete(users).where(users.c.id == user_id))
            self._audit(db, actor, "user_remove", name, remote, "ok", subject=name, old={"roles": roles})

    def set_pin(self, name: str, pin: str, *, actor: str, remote: str | None = None) -> None:
        """Give ``name`` a new PIN; their sessions end and a lock-out is lifted."""
        pin_hash = self._hasher.hash(check_pin(pin))
        now = self.now()
        with self._writing() as db:
            user_id = self._user_id(db, name)
            db.execute(
                update(users).where(users.c.id == user_id).values(pin_hash=pin_hash, failed_count=0, locked_until=None)
            )
            self._revoke_all(db, user_id, now)
            self._audit(db, actor, "set_pin", name, remote, "ok", subject=name, new={"pin": "changed"})

    def unlock(self, name: str, *, actor: str, remote: str | None = None) -> None:
        """Lift ``name``'s lock-out and forget their failed sign-ins."""
        with self._writing() as db:
            user_id = self._user_id(db, name)
            failed, until = db.execute(
                select(users.c.failed_count, users.c.locked_until).where(users.c.id == user_id)
            ).one()
            db.execute(update(users).where(users.c.id == user_id).values(failed_count=0, locked_until=None))
            self._audit(
                db,
                actor,
                "unlock",
                name,
                remote,
                "ok",
                subject=name,
                old={"failed_count": failed, "locked_until": None if until is None else until.isoformat()},
                new={"failed_count": 0, "locked_until": None},
            )

    def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self._engine.connect() as db:
            rows = db.execute(select(users).order_by(users.c.name)).all()
        return [
            UserInfo(row.name, _roles_of(row.roles), row.created, row.failed_count, row.locked_until, row.disabled)
            for row in rows
        ]

    # ---------------------------------------------------------------------------------------------- sign-in

    def authenticate(self, name: str, pin: str, remote: str | None = None) -> NewSession:
        """Sign ``name`` in with ``pin``: a new session, or :class:`Unauthenticated` (the same message for an unknown
        user and a wrong PIN), :class:`LockedOut` (the failure that reaches the limit, and every try while locked),
        or :class:`Forbidden` (a disabled user). Each outcome is audited."""
        now = self.now()
        with self._engine.connect() as db:
            row = db.execute(select(users).where(users.c.name == name)).one_or_none()
        if row is None:
            self._verify(self._dummy_hash, pin)  # as long as a real check: the time does not tell a name exists
            self.audit(name, "login", "unknown user", remote, "failed")
            raise Unauthenticated(WRONG_CREDENTIALS)
        self._refuse_if_locked(row, now, "login", remote)
        if not self._verify(row.pin_hash, pin):
            self._count_failure(row.id, name, "login", remote, now)
            raise Unauthenticated(WRONG_CREDENTIALS)
        if row.disabled:
            self.audit(name, "login", "user disabled", remote, "refused")
            raise Forbidden(
                Wording(N_("user {user} is disabled (ask an admin)"), user=repr(name)), field="user", value=name
            )
        new_hash = self._hasher.hash(pin) if self._hasher.check_needs_rehash(row.pin_hash) else None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires_at = now + self.limits.absolute
        with self._writing() as db:
            values: dict[str, Any] = {"failed_count": 0, "locked_until": None}
            if new_hash is not None:
                values["pin_hash"] = new_hash
            db.execute(update(users).where(users.c.id == row.id).values(**values))
            db.execute(delete(auth_sessions).where(auth_sessions.c.expires_at < now - timedelta(days=1)))
            inserted = db.execute(
                insert(auth_sessions).values(
                    token_hash=token_hash(token),
                    user_id=row.id,
                    created=now,
                    last_used=now,
                    expires_at=expires_at,
                    idle_timeout_s=int(self.limits.idle.total_seconds()),
                    fresh_until=None,
                    csrf_token=csrf,
                )
            ).inserted_primary_key
            assert inserted is not None
            session_id = int(inserted[0])
            self._audit(db, name, "login", "rehashed" if new_hash else "", remote, "ok", subject=name)
        principal = Principal(
            user=name,
            roles=_roles_of(row.roles),
            via="bearer",
            session_id=session_id,
            expires_at=expires_at,
            csrf_token=csrf,
        )
        return NewSession(token, csrf, principal)

    def session_for(self, token: str, *, via: Via = "bearer") -> Principal:
        """The principal of the session ``token`` opened (and it counts as used now); :class:`Unauthenticated` if the
        token is unknown, revoked, or expired (unused for 15 min, or signed in 12 h ago)."""
        now = self.now()
        row = self._session_row(token) if 0 < len(token) <= MAX_TOKEN else None
        if row is None:
            raise Unauthenticated(Wording(N_("the session token is not valid; sign in with POST /auth/login")))
        if row.revoked_at is not None:
            raise Unauthenticated(Wording(N_("this session has ended (signed out, or the PIN changed); sign in again")))
        if now >= row.expires_at:
            raise Unauthenticated(
                Wording(
                    N_("this session expired: a sign-in lasts at most {span}"), span=span_text(self.limits.absolute)
                )
            )
        idle = timedelta(seconds=row.idle_timeout_s)
        if now >= row.last_used + idle:
            raise Unauthenticated(
                Wording(N_("this session expired after {span} without use; sign in again"), span=span_text(idle))
            )
        if row.disabled:
            raise Unauthenticated(Wording(N_("user {user} is disabled (ask an admin)"), user=repr(row.name)))
        with self._engine.begin() as db:
            db.execute(update(auth_sessions).where(auth_sessions.c.id == row.id).values(last_used=now))
        return Principal(
            user=row.name,
            roles=_roles_of(row.roles),
            via=via,
            session_id=row.id,
            fresh_until=row.fresh_until,
            expires_at=row.expires_at,
            csrf_token=row.csrf_token,
        )

    def logout(self, token: str, remote: str | None = None) -> None:
        """End the session ``token`` opened (:class:`Unauthenticated` if it is not a live session)."""
        principal = self.session_for(token)
        with self._writing() as db:
            db.execute(
                update(auth_sessions).where(auth_sessions.c.id == principal.session_id).values(revoked_at=self.now())
            )
            self._audit(db, principal.user, "logout", "", remote, "ok", subject=principal.user)

    def reauth(self, token: str, pin: str, remote: str | None = None) -> datetime:
        """Re-authenticate the session ``token`` opened with its user's ``pin``: technician operations are allowed
        until the returned time (5 min). A wrong PIN is :class:`Forbidden` (the session stays, not fresh) and counts
        towards the lock-out like a failed sign-in."""
        principal = self.session_for(token)
        now = self.now()
        with self._engine.connect() as db:
            row = db.execute(select(users).where(users.c.name == principal.user)).one()
        self._refuse_if_locked(row, now, "reauth", remote)
        if not self._verify(row.pin_hash, pin):
            left = self._count_failure(row.id, row.name, "reauth", remote, now)
            raise Forbidden(
                f"wrong PIN: not re-authenticated (still signed in; {left} more failures lock {row.name!r} out)",
                field="pin",
            )
        fresh_until = now + self.limits.fresh
        with self._writing() as db:
            db.execute(update(users).where(users.c.id == row.id).values(failed_count=0))
            db.execute(
                update(auth_sessions).where(auth_sessions.c.id == principal.session_id).values(fresh_until=fresh_until)
            )
            self._audit(db, row.name, "reauth", "", remote, "ok", subject=row.name)
        return fresh_until

    # ------------------------------------------------------------------------------------------------ audit

    def audit(
        self,
        actor: str,
        action: str,
        detail: str = "",
        remote: str | None = None,
        outcome: str = "ok",
        *,
        subject: str | None = None,
    ) -> None:
        """Enter one action in the audit trail (the service's privileged actions come here too): about the user
        ``subject`` (default: the actor), or, for an ``action`` that is a request (``POST /path``), that request;
        :class:`AccountsUnavailable` if the entry cannot be written."""
        with self._writing() as db:
            self._audit(db, actor, action, detail, remote, outcome, subject=subject)

    def audit_trail(self, *, limit: int | None = None) -> list[AuditEntry]:
        """The audit trail, oldest first (the last ``limit`` entries if given)."""
        a = audit_log.c
        query = select(a.seq, a.ts, a.actor, a.action, a.entity_id, a.reason, a.new_value).order_by(a.seq.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as db:
            rows = db.execute(query).all()
        entries = []
        for seq, ts, actor, action, entity_id, reason, new_value in reversed(rows):
            new = json.loads(new_value) if new_value else {}
            moment = datetime.fromisoformat(ts)
            entries.append(
                AuditEntry(
                    moment, actor, action, reason, new.get("remote"), str(new.get("outcome", "")), seq, entity_id
                )
            )
        return entries

    def verify(self, *, expect_head: Head | None = None) -> ChainReport:
        """The audit trail's chain recomputed, as ``mesogun record verify`` does the record's (one verifier): the
        first entry altered, inserted or deleted behind the program's back, or the head noted earlier missing."""
        log = AuditLog(audit_log, self._rows, "sqlite", self._trigger_names)
        return verify_log(log, expect_head=expect_head)

    # --------------------------------------------------------------------------------------------- internals

    @cached_property
    def _dummy_hash(self) -> str:
        """A hash to check an unknown user's PIN against, so that takes as long as checking a real one."""
        return self._hasher.hash(secrets.token_urlsafe(16))

    def _verify(self, pin_hash: str, pin: str) -> bool:
        try:
            return self._hasher.verify(pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction that holds the file's write lock from its start (``BEGIN IMMEDIATE``: the chain's
        last entry is read and the next one written with no other writer between them), committed at the end;
        a database error is :class:`AccountsUnavailable` and nothing of the transaction is kept."""
        try:
            with self._engine.connect() as db:
                db.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.rollback()
                    raise
                db.commit()
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise AccountsUnavailable(
                Wording(
                    N_(
                        "the accounts store {path} could not be written (the audit trail with it): {cause}; nothing "
                        "was changed"
                    ),
                    path=str(self.path),
                    cause=worded_cause(exc, str(cause)),
                )
            ) from exc

    def _audit(
        self,
        db: Connection,
        actor: str,
        action: str,
        detail: str,
        remote: str | None,
        outcome: str,
        *,
        subject: str | None = None,
        old: Mapping[str, Any] | None = None,
        new: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one entry to the chain inside ``db``'s write transaction (:meth:`_writing`)."""
        request = subject is None and " /" in action  # the request trail: "POST /guns/X/arm"
        append_audit(
            db,
            log=audit_log,
            ts=self.now().isoformat(timespec="microseconds"),
            actor=actor[:128],
            action=action[:200],
            entity=REQUEST if request else USER,
            entity_id=(action if request else subject or actor)[:200],
            reason=detail[:1000],
            old=old,
            new={**(new or {}), "outcome": outcome[:16], "remote": remote[:64] if remote else None},
        )

    def _has_chain(self) -> bool:
        """Whether the store has its chained trail already (else it is new, or older than the chain)."""
        with self._engine.connect() as db:
            return "audit_log" in inspect(db).get_table_names()

    def _carry_over(self, db: Connection) -> None:
        """An older store's unchained trail, entered in the chain once (oldest first, each with its own time and
        the row it came from); the old table is left as it was."""
        if "audit" not in inspect(db).get_table_names():
            return
        if db.execute(select(audit_log.c.seq).limit(1)).first() is not None:  # another process carried it over
            return
        for row in db.execute(select(legacy_audit).order_by(legacy_audit.c.id)).all():
            request = " /" in row.action
            append_audit(
                db,
                log=audit_log,
                ts=row.ts.isoformat(timespec="microseconds"),
                actor=row.actor,
                action=row.action,
                entity=REQUEST if request else USER,
                entity_id=row.action if request else row.actor,
                reason=row.detail,
                new={"outcome": row.outcome, "remote": row.remote, "carried_over": f"audit row {row.id}"},
            )

    def _rows(self, query: Any) -> list[tuple[Any, ...]]:
        with self._engine.connect() as db:
            return [tuple(row) for row in db.execute(query)]

    def _trigger_names(self) -> set[str]:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        with self._engine.connect() as db:
            return {str(row[0]) for row in db.exec_driver_sql(query)}

    @staticmethod
    def _user_id(db: Connection, name: str) -> int:
        user_id = db.execute(select(users.c.id).where(users.c.name == name)).scalar_one_or_none()
        if user_id is None:
            raise UserError(f"no user {name!r} (see 'mesogun users list')", field="name", value=name)
        return int(user_id)

    def _session_row(self, token: str) -> Any:
        query = (
            select(auth_sessions, users.c.name, users.c.roles, users.c.disabled)
            .join(users, users.c.id == auth_sessions.c.user_id)
            .where(auth_sessions.c.token_hash == token_hash(token))
        )
        with self._engine.connect() as db:
            return db.execute(query).one_or_none()

    def _refuse_if_locked(self, row: Any, now: datetime, action: str, remote: str | None) -> None:
        if row.locked_until is not None and now < row.locked_until:
            self.audit(row.name, action, f"locked out until {row.locked_until.isoformat()}", remote, "refused")
            raise self._locked_out(row.name, row.locked_until, now)

    def _count_failure(self, user_id: int, name: str, action: str, remote: str | None, now: datetime) -> int:
        """Count a wrong PIN (one atomic ``UPDATE``); the one that reaches the limit locks the user out and raises
        :class:`LockedOut`. Returns how many more failures the user has before that."""
        limits = self.limits
        with self._writing() as db:
            count = db.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_count=users.c.failed_count + 1)
                .returning(users.c.failed_count)
            ).scalar_one()
            self._audit(
                db, name, action, f"wrong PIN ({count} of {limits.max_failures})", remote, "failed", subject=name
            )
            if count < limits.max_failures:
                return int(limits.max_failures - count)
            until = now + limits.lockout
            db.execute(update(users).where(users.c.id == user_id).values(failed_count=0, locked_until=until))
            detail = f"{count} failed sign-ins; locked until {until.isoformat()}"
            self._audit(
                db, name, "lockout", detail, remote, "ok", subject=name, new={"locked_until": until.isoformat()}
            )
        raise self._locked_out(name, until, now)

    def _locked_out(self, name: str, until: datetime, now: datetime) -> LockedOut:
        limits = self.limits
        return LockedOut(
            Wording(
                N_(
                    "user {user} is locked out for {span} after {failures} failed sign-ins (until {until} UTC), or "
                    "until an admin runs 'mesogun users unlock {name}'"
                ),
                user=repr(name),
                span=span_text(limits.lockout),
                failures=limits.max_failures,
                until=f"{until:%H:%M:%S}",
                name=name,
            ),
            retry_after_s=int((until - now).total_seconds() + 0.999),
        )

    @staticmethod
    def _revoke_all(db: Connection, user_id: int, now: datetime) -> None:
        db.execute(
            update(auth_sessions)
            .where(auth_sessions.c.user_id == user_id, auth_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


def _sqlite_settings(dbapi_connection: Any, _record: Any) -> None:
    """Each new connection: foreign keys on (a removed user's sessions go with them), WAL so readers never wait
    for a writer."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
