"""The feedback store on SQLAlchemy Core: cards shown, feedback, and the replay store of JWT ids.

Nothing stored identifies a patient: a card is kept as its uuid (derived from the hook instance,
the rule and the ruleset), the service, the rule id and version and the ruleset hash. The same
database holds the ids of accepted tokens (a SHA-256 of ``iss`` and ``jti``) until they expire, so
a token replayed to another worker or host sharing the database is refused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from ivig_cds.outputs.cds_hooks import CardMeta

__all__ = ["UNKNOWN_CARD", "FeedbackItem", "RuleReport", "Store", "StoreError"]

UNKNOWN_CARD = "(card not shown by this service)"
_PURGE_EVERY_S = 60.0

metadata = MetaData()
token_ids = Table(
    "ivig_cds_token_ids",
    metadata,
    Column("key", String(64), primary_key=True, comment="sha256 of iss and jti"),
    Column("expires_at", BigInteger, nullable=False, index=True, comment="exp + leeway, epoch seconds"),
)
cards_shown = Table(
    "ivig_cds_cards_shown",
    metadata,
    Column("card_uuid", String(36), primary_key=True),
    Column("service", String(64), nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("rule_version", String(32), nullable=False),
    Column("ruleset_hash", String(64), nullable=False),
    Column("indicator", String(16), nullable=False),
    Column("shown_at", DateTime(timezone=True), nullable=False),
)
feedback = Table(
    "ivig_cds_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_uuid", String(36), nullable=False, index=True),
    Column("service", String(64), nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("rule_version", String(32), nullable=False),
    Column("ruleset_hash", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("override_system", String(256)),
    Column("override_code", String(128)),
    Column("override_display", String(512)),
    Column("comment", Text),
    Column("accepted_suggestions", Integer, nullable=False),
    Column("outcome_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


class StoreError(Exception):
    """The database could not be reached or written (the message names no patient, no token)."""


@dataclass(frozen=True)
class FeedbackItem:
    """One validated feedback entry."""

    card: str
    outcome: str
    outcome_at: datetime
    accepted_suggestions: int = 0
    override_system: str | None = None
    override_code: str | None = None
    override_display: str | None = None
    comment: str | None = None


@dataclass
class RuleReport:
    """Feedback counts of one rule id and version."""

    rule_id: str
    rule_version: str
    shown: int = 0
    accepted: int = 0
    overridden: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (the report command's JSON)."""
        return {
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "shown": self.shown,
            "accepted": self.accepted,
            "overridden": self.overridden,
            "override_reasons": [{"reason": k, "count": v} for k, v in sorted(self.reasons.items())],
        }


def _token_key(iss: str, jti: str) -> str:
    return hashlib.sha256(f"{iss}\x00{jti}".encode()).hexdigest()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Store:
    """The service's database: one per process, safe to share between threads.

    Args:
        url: A SQLAlchemy database URL (``sqlite:///file``, ``postgresql+psycopg://…``).
        create: Create the tables when they are missing.

    Raises:
        StoreError: The database cannot be opened or its tables created.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        try:
            if url.startswith("sqlite"):
                memory = url in ("sqlite://", "sqlite:///:memory:")
                self.engine: Engine = create_engine(
                    url,
                    connect_args={"check_same_thread": False, "timeout": 30},
                    poolclass=StaticPool if memory else None,
                )
                if not memory:
                    event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
            self.dialect = self.engine.dialect.name
            if create:
                self.create_tables()
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"cannot open the feedback database ({type(exc).__name__})") from None
        self._purged = 0.0

    def create_tables(self) -> None:
        """Create missing tables (several workers may race: a table created meanwhile is fine)."""
        for _ in range(3):
            try:
                metadata.create_all(self.engine)
                return
            except SQLAlchemyError:
                time.sleep(0.2)
        metadata.create_all(self.engine)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # ------------------------------------------------------------ helpers

    def _ignoring(self, table: Table) -> Any:
        """An INSERT that skips rows whose primary key exists (None: the dialect has no such clause)."""
        if self.dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(table).on_conflict_do_nothing()
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table).on_conflict_do_nothing()
        return None

    def _insert_ignore(self, conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert the rows whose primary key is new."""
        if not rows:
            return
        stmt = self._ignoring(table)
        if stmt is not None:
            conn.execute(stmt, list(rows))
            return
        for row in rows:
            try:
                with conn.begin_nested():
                    conn.execute(insert(table), [row])
            except IntegrityError:
                continue

    # ------------------------------------------------------------ replay store

    def claim_token(self, iss: str, jti: str, expires_at: int) -> bool:
        """Record a token id; ``False`` when it was seen before and has not expired (a replay).

        The insert itself is the check, so two workers (or hosts) claiming one id at the same
        moment cannot both succeed.

        Args:
            iss: The issuer.
            jti: The token id.
            expires_at: When the record may be forgotten (``exp`` plus the leeway, epoch seconds).
        """
        now = time.time()
        row = {"key": _token_key(iss, jti), "expires_at": int(expires_at)}
        stmt = self._ignoring(token_ids)
        try:
            with self.engine.begin() as conn:
                if now - self._purged > _PURGE_EVERY_S:
                    self._purged = now  # a race between threads only purges twice
                    conn.execute(delete(token_ids).where(token_ids.c.expires_at < int(now)))
                if stmt is None:
                    conn.execute(insert(token_ids), [row])
                    return True
                return conn.execute(stmt.returning(token_ids.c.key), row).first() is not None
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise StoreError(f"replay store unavailable ({type(exc).__name__})") from None

    # ------------------------------------------------------------ cards and feedback

    def record_cards(self, service: str, ruleset_hash: str, cards: Iterable[CardMeta]) -> None:
        """Record cards returned to an EHR (a card shown again for the same hook instance counts once)."""
        now = datetime.now(UTC)
        rows = [
            {
                "card_uuid": c.uuid,
                "service": service,
                "rule_id": c.rule_id,
                "rule_version": c.rule_version,
                "ruleset_hash": ruleset_hash,
                "indicator": c.indicator,
                "shown_at": now,
            }
            for c in cards
        ]
        try:
            with self.engine.begin() as conn:
                self._insert_ignore(conn, cards_shown, rows)
        except SQLAlchemyError as exc:
            raise StoreError(f"feedback store unavailable ({type(exc).__name__})") from None

    def add_feedback(self, service: str, items: Sequence[FeedbackItem]) -> int:
        """Store feedback entries with the rule id, version and ruleset of their card; return the count."""
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                uuids = sorted({i.card for i in items})
                known = {
                    r.card_uuid: r
                    for r in conn.execute(select(cards_shown).where(cards_shown.c.card_uuid.in_(uuids)))
                }
                rows = []
                for item in items:
                    card = known.get(item.card)
                    rows.append(
                        {
                            "card_uuid": item.card,
                            "service": service,
                            "rule_id": card.rule_id if card is not None else UNKNOWN_CARD,
                            "rule_version": card.rule_version if card is not None else "-",
                            "ruleset_hash": card.ruleset_hash if card is not None else "-",
                            "outcome": item.outcome,
                            "override_system": item.override_system,
                            "override_code": item.override_code,
                            "override_display": item.override_display,
                            "comment": item.comment,
                            "accepted_suggestions": item.accepted_suggestions,
                            "outcome_at": item.outcome_at,
                            "received_at": now,
                        }
                    )
                if rows:
                    conn.execute(insert(feedback), rows)
                return len(rows)
        except SQLAlchemyError as exc:
            raise StoreError(f"feedback store unavailable ({type(exc).__name__})") from None

    def report(self) -> list[RuleReport]:
        """Cards shown, accepted, overridden and override reasons per rule id and version."""
        rows: dict[tuple[str, str], RuleReport] = {}

        def row(rule_id: str, version: str) -> RuleReport:
            return rows.setdefault((rule_id, version), RuleReport(rule_id, version))

        try:
            with self.engine.connect() as conn:
                shown = select(cards_shown.c.rule_id, cards_shown.c.rule_version, func.count()).group_by(
                    cards_shown.c.rule_id, cards_shown.c.rule_version
                )
                for rule_id, version, n in conn.execute(shown):
                    row(rule_id, version).shown = int(n)
                outcomes = select(feedback.c.rule_id, feedback.c.rule_version, feedback.c.outcome, func.count())
                outcomes = outcomes.group_by(feedback.c.rule_id, feedback.c.rule_version, feedback.c.outcome)
                for rule_id, version, outcome, n in conn.execute(outcomes):
                    if outcome == "accepted":
                        row(rule_id, version).accepted += int(n)
                    else:
                        row(rule_id, version).overridden += int(n)
                cols = (feedback.c.rule_id, feedback.c.rule_version, feedback.c.override_code)
                reasons = (
                    select(*cols, feedback.c.override_display, func.count())
                    .where(feedback.c.outcome == "overridden")
                    .group_by(*cols, feedback.c.override_display)
                )
                for rule_id, version, code, display, n in conn.execute(reasons):
                    if code is None and display is None:
                        name = "(no reason given)"
                    else:
                        name = f"{display} [{code}]" if display and code else str(display or code)
                    entry = row(rule_id, version).reasons
                    entry[name] = entry.get(name, 0) + int(n)
        except SQLAlchemyError as exc:
            raise StoreError(f"feedback store unavailable ({type(exc).__name__})") from None
        return [rows[k] for k in sorted(rows)]
