"""Conversations in SQLite (the standard library's ``sqlite3``), searchable by what was said
and answered.

Reads (the list, a conversation, a search) run on the caller's thread: each is one indexed
query. Writes go to a thread of their own with its own connection, so a slow disk never
stalls the window; ``flush()`` waits for them. WAL lets both work at once.

A file that is not a database, or one another process holds locked, raises
``HistoryUnavailable`` with a message for the user; a write that fails later (a full disk)
is reported once through ``on_error`` and turns writing off.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.history.record import TurnRecord

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TITLE_CHARS = 80
# Queries shorter than a trigram can't use the full-text index; LIKE scans instead.
TRIGRAM = 3
BUSY_TIMEOUT_S = 2.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    started REAL NOT NULL,
    updated REAL NOT NULL,
    title TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations (updated);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    at REAL NOT NULL,
    heard TEXT NOT NULL DEFAULT '',
    answer TEXT NOT NULL DEFAULT '',
    record TEXT NOT NULL,
    clip BLOB,
    clip_rate INTEGER
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, id);
"""
# The full-text index follows the turns table through triggers (an external-content table).
FULL_TEXT = """
CREATE VIRTUAL TABLE IF NOT EXISTS turns_text USING fts5 (
    heard, answer, content='turns', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS turns_text_insert AFTER INSERT ON turns BEGIN
    INSERT INTO turns_text (rowid, heard, answer) VALUES (new.id, new.heard, new.answer);
END;
CREATE TRIGGER IF NOT EXISTS turns_text_delete AFTER DELETE ON turns BEGIN
    INSERT INTO turns_text (turns_text, rowid, heard, answer)
        VALUES ('delete', old.id, old.heard, old.answer);
END;
"""


class HistoryUnavailable(Exception):
    """The history can't be opened or written; the message is for the user."""


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    started: float
    updated: float
    turns: int


@dataclass(frozen=True)
class Found:
    conversation: Conversation
    excerpt: str  # the matching words in their context, the match in [brackets]


@dataclass
class StoredTurn:
    record: TurnRecord
    clip: np.ndarray | None
    rate: int | None


class HistoryStore:
    def __init__(
        self,
        path: Path,
        keep_clips: bool = False,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.keep_clips = keep_clips
        self.on_error = on_error
        self.writable = True
        self._reads = self._open()
        self.full_text = self._create_schema(self._reads)
        self._writes: queue.Queue = queue.Queue()
        self._writer = threading.Thread(
            target=self._write_all, name="ptt-history", daemon=True
        )
        self._writer.start()

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise HistoryUnavailable(self._cannot(exc)) from exc
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            connection.close()
            raise HistoryUnavailable(self._cannot(exc)) from exc
        if version > SCHEMA_VERSION:
            connection.close()
            raise HistoryUnavailable(
                f"The history in {self.path} was written by a newer version of the app; "
                "this one keeps no history rather than change it."
            )
        return connection

    def _cannot(self, exc: BaseException) -> str:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            why = "another program holds it locked"
        elif isinstance(exc, sqlite3.DatabaseError) and not isinstance(
            exc, sqlite3.OperationalError
        ):
            why = f"it is damaged ({exc})"
        else:
            why = str(exc)
        return (
            f"The conversation history can't be opened: {why}. This session keeps no "
            f"history; the file was left as it is ({self.path})."
        )

    def _create_schema(self, connection: sqlite3.Connection) -> bool:
        """The tables; whether this SQLite has the full-text index (FTS5)."""
        try:
            with connection:
                connection.executescript(SCHEMA)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            connection.close()
            raise HistoryUnavailable(self._cannot(exc)) from exc
        try:
            with connection:
                connection.executescript(FULL_TEXT)
        except sqlite3.OperationalError as exc:  # an SQLite built without FTS5
            log.warning("history search without a full-text index: %s", exc)
            return False
        return True

    # -- reading -----------------------------------------------------------------------------

    def conversations(self, limit: int = 200) -> list[Conversation]:
        """The latest first."""
        rows = self._reads.execute(
            "SELECT c.id, c.title, c.started, c.updated,"
            " (SELECT count(*) FROM turns t WHERE t.conversation = c.id)"
            " FROM conversations c ORDER BY c.updated DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [Conversation(*row) for row in rows]

    def latest(self) -> Conversation | None:
        found = self.conversations(limit=1)
        return found[0] if found else None

    def turns(self, conversation_id: str) -> list[StoredTurn]:
        rows = self._reads.execute(
            "SELECT record, clip, clip_rate FROM turns WHERE conversation = ? ORDER BY id",
            (conversation_id,),
        ).fetchall()
        stored = []
        for record, clip, rate in rows:
            samples = np.frombuffer(clip, dtype=np.float32).copy() if clip else None
            stored.append(
                StoredTurn(TurnRecord.from_dict(json.loads(record)), samples, rate)
            )
        return stored

    def search(self, text: str, limit: int = 50) -> list[Found]:
        """Conversations whose heard words or answers contain ``text`` (any case), the most
        recent first, each with its latest matching excerpt."""
        text = " ".join(text.split())
        if not text:
            return []
        if self.full_text and len(text) >= TRIGRAM:
            rows = self._reads.execute(
                "SELECT t.conversation, snippet(turns_text, -1, '[', ']', '…', 10)"
                " FROM turns_text JOIN turns t ON t.id = turns_text.rowid"
                " WHERE turns_text MATCH ? ORDER BY t.id DESC LIMIT 2000",
                ('"' + text.replace('"', '""') + '"',),
            ).fetchall()
        else:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%") + "%"
            pattern = pattern.replace("_", "\\_")
            rows = self._reads.execute(
                "SELECT conversation, CASE WHEN heard LIKE ?1 ESCAPE '\\' THEN heard"
                " ELSE answer END FROM turns"
                " WHERE heard LIKE ?1 ESCAPE '\\' OR answer LIKE ?1 ESCAPE '\\'"
                " ORDER BY id DESC LIMIT 2000",
                (pattern,),
            ).fetchall()
        excerpts: dict[str, str] = {}
        for conversation_id, excerpt in rows:
            excerpts.setdefault(conversation_id, excerpt)
            if len(excerpts) == limit:
                break
        if not excerpts:
            return []
        marks = ",".join("?" * len(excerpts))
        by_id = {
            c[0]: Conversation(*c)
            for c in self._reads.execute(
                "SELECT c.id, c.title, c.started, c.updated,"
                " (SELECT count(*) FROM turns t WHERE t.conversation = c.id)"
                f" FROM conversations c WHERE c.id IN ({marks})",
                tuple(excerpts),
            )
        }
        return [
            Found(by_id[cid], excerpt)
            for cid, excerpt in excerpts.items()
            if cid in by_id
        ]

    # -- writing (on the writer thread) -----------------------------------------------------

    @staticmethod
    def new_conversation() -> str:
        """An id for a conversation; nothing is written until its first turn."""
        return uuid.uuid4().hex

    def add_turn(
        self,
        conversation_id: str,
        turn: TurnRecord,
        clip: np.ndarray | None = None,
        rate: int | None = None,
    ) -> None:
        """Queue the turn (the clip only when clips are kept); returns at once."""
        kept = clip if self.keep_clips else None
        record = json.dumps(turn.to_dict(), ensure_ascii=False)
        blob = None if kept is None else np.asarray(kept, dtype=np.float32).tobytes()
        title = (turn.heard or turn.answer or "").strip()[:TITLE_CHARS]
        self._queue(
            "turn",
            (conversation_id, time.time(), turn.heard or "", turn.answer, record, blob,
             rate if blob is not None else None, title),
        )  # fmt: skip

    def delete(self, conversation_id: str) -> None:
        self._queue("delete", (conversation_id,))

    def delete_all(self) -> None:
        self._queue("delete_all", ())

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is on disk; False when it took longer (or the
        writer is gone)."""
        if not self._writer.is_alive():
            return False
        done = threading.Event()
        self._writes.put(("flush", done))
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, then stop the writer and close the connections."""
        if self._writer.is_alive():
            self._writes.put(None)
            self._writer.join(timeout=10)
        self._reads.close()

    def _queue(self, kind: str, values: tuple) -> None:
        if self.writable:
            self._writes.put((kind, values))

    def _write_all(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            self._failed(exc)
            return
        try:
            while (job := self._writes.get()) is not None:
                kind, values = job
                if kind == "flush":
                    values.set()
                    continue
                try:
                    with connection:
                        self._write(connection, kind, values)
                except sqlite3.Error as exc:
                    self._failed(exc)
        finally:
            connection.close()
            self._drain()

    @staticmethod
    def _write(connection: sqlite3.Connection, kind: str, values: tuple) -> None:
        if kind == "turn":
            cid, at, heard, answer, record, clip, rate, title = values
            connection.execute(
                "INSERT INTO conversations (id, started, updated, title) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET updated = excluded.updated,"
                " title = CASE WHEN title = '' THEN excluded.title ELSE title END",
                (cid, at, at, title),
            )
            connection.execute(
                "INSERT INTO turns (conversation, at, heard, answer, record, clip,"
                " clip_rate) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (cid, at, heard, answer, record, clip, rate),
            )
        elif kind == "delete":
            connection.execute("DELETE FROM turns WHERE conversation = ?", values)
            connection.execute("DELETE FROM conversations WHERE id = ?", values)
        elif kind == "delete_all":
            connection.execute("DELETE FROM turns")
            connection.execute("DELETE FROM conversations")

    def _failed(self, exc: sqlite3.Error) -> None:
        if not self.writable:
            return
        self.writable = False
        message = (
            f"The conversation history could not be written ({exc}); what follows is "
            f"not kept. The file is {self.path}."
        )
        log.warning("%s", message)
        if self.on_error is not None:
            self.on_error(message)

    def _drain(self) -> None:
        """Wake whoever waits on a flush queued behind a failure."""
        while True:
            try:
                job = self._writes.get_nowait()
            except queue.Empty:
                return
            if job is not None and job[0] == "flush":
                job[1].set()
