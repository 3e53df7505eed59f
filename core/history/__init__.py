"""Conversations kept across restarts: a turn's record and the SQLite store that keeps them."""

from core.history.record import TurnRecord
from core.history.store import Conversation, Found, HistoryStore, HistoryUnavailable

__all__ = ["Conversation", "Found", "HistoryStore", "HistoryUnavailable", "TurnRecord"]
