"""The window's side of the history: the conversation being had, written turn by turn, and
a stored one shown again in the chat with the assistant's memory rebuilt from it."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.config import HistorySettings
from core.history import HistoryStore, HistoryUnavailable, TurnRecord
from core.history.store import StoredTurn
from core.pipelines.base import Exchange
from desktop_app.widgets.chat_view import AnswerBubble, ChatView

log = logging.getLogger(__name__)

NOT_KEPT = "The recording was not kept (history.keep_clips in config.yaml keeps it)."


class ConversationHistory(QObject):
    note = Signal(str)
    current_forgotten = Signal()  # the conversation being had was deleted
    _write_failed = Signal(str)  # from the store's writer thread, to the GUI thread

    def __init__(
        self, settings: HistorySettings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.store: HistoryStore | None = None
        self.current = HistoryStore.new_conversation()
        self._write_failed.connect(self.note)

    def open(self) -> None:
        """Open the database; a damaged or locked one is a note, and no history."""
        if not self.settings.enabled:
            return
        try:
            self.store = HistoryStore(
                self.settings.file(),
                keep_clips=self.settings.keep_clips,
                on_error=self._write_failed.emit,
            )
        except HistoryUnavailable as exc:
            log.warning("%s", exc)
            self.note.emit(str(exc))

    def record(self, turn: TurnRecord, clip: np.ndarray | None, rate: int) -> None:
        if self.store is not None:
            self.store.add_turn(self.current, turn, clip, rate)

    def new_conversation(self) -> None:
        self.current = HistoryStore.new_conversation()

    def load(self, conversation_id: str) -> list[StoredTurn]:
        """A stored conversation's turns; it becomes the one the next turns join."""
        if self.store is None:
            return []
        self.current = conversation_id
        return self.store.turns(conversation_id)

    def latest(self) -> str | None:
        latest = self.store.latest() if self.store is not None else None
        return latest.id if latest is not None else None

    def forget(self, conversation_id: str | None) -> None:
        """Delete one stored conversation, or every one (None)."""
        if self.store is None:
            return
        if conversation_id is None:
            self.store.delete_all()
        else:
            self.store.delete(conversation_id)
        self.store.flush()
        if conversation_id in (None, self.current):
            self.new_conversation()
            self.current_forgotten.emit()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None


def show_turns(
    chat: ChatView,
    stored: list[StoredTurn],
    play: Callable[[np.ndarray, int], None],
    retry: Callable[[AnswerBubble, TurnRecord, np.ndarray | None, int], bool]
    | None = None,
) -> None:
    """The stored turns as bubbles, as they were when answered; a failed one whose clip (or
    typed text) was kept offers ``retry``."""
    for turn in stored:
        record = turn.record
        user = chat.add_user(record.clip_s)
        if record.typed:
            user.show_typed(record.heard or "")
        elif turn.clip is not None and turn.rate:
            clip, rate = turn.clip, turn.rate
            user.play_requested.connect(lambda c=clip, r=rate: play(c, r))
        else:
            user.play_button.setEnabled(False)
            user.play_button.setToolTip(NOT_KEPT)
        if record.heard and not record.typed:
            user.set_heard(record.heard)
        answer = chat.add_answer()
        if record.note:
            answer.show_note(record.note)
            kept = record.typed or turn.clip is not None
            if retry is not None and record.retryable and kept:
                answer.offer_retry(
                    lambda a=answer, r=record, c=turn.clip, n=turn.rate or 0: retry(
                        a, r, c, n
                    )
                )
            continue
        if record.answer:
            answer.append(record.answer)
        answer.set_badges(record.badges)
        if record.interrupted:
            answer.mark_interrupted()


def memory_of(stored: list[StoredTurn], sample_rate: int) -> list[Exchange]:
    """What the assistant remembers of a reopened conversation: its answered conversation
    turns, as text where the words heard are known, else as the kept clip."""
    exchanges = []
    for turn in stored:
        record = turn.record
        if record.mode != "conversation" or record.note or not record.answer:
            continue
        if record.heard:
            exchanges.append(Exchange(record.heard, None, record.answer))
        elif turn.clip is not None and turn.rate == sample_rate:
            exchanges.append(Exchange(None, turn.clip, record.answer))
    return exchanges
