"""History…: earlier conversations, the latest first, searched as you type by what was said
and answered; open one, delete one, or delete them all."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.history import Conversation
from desktop_app.history.conversation_history import ConversationHistory

log = logging.getLogger(__name__)


def when(at: float) -> str:
    return time.strftime("%a %d %b %Y, %H:%M", time.localtime(at))


def describe(conversation: Conversation, excerpt: str | None = None) -> str:
    turns = f"{conversation.turns} turn" + ("" if conversation.turns == 1 else "s")
    lines = [
        conversation.title or "(no words heard)",
        f"{when(conversation.updated)} · {turns}",
    ]
    if excerpt:
        lines.append(excerpt)
    return "\n".join(lines)


class HistoryDialog(QDialog):
    chosen = Signal(str)  # a conversation to reopen

    def __init__(
        self, history: ConversationHistory, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.history = history
        self.store = history.store
        self.setWindowTitle("History")
        self.resize(520, 480)
        layout = QVBoxLayout(self)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search what was said and answered")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.refresh)
        self.search.returnPressed.connect(self.open_selected)
        layout.addWidget(self.search)
        self.results = QListWidget()
        self.results.setWordWrap(True)
        self.results.setSpacing(4)
        self.results.itemActivated.connect(self.open_selected)
        self.results.currentItemChanged.connect(self._enable)
        layout.addWidget(self.results)
        self.empty = QLabel()
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.empty)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open")
        self.open_button.setDefault(True)
        self.open_button.clicked.connect(self.open_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.delete_all_button = QPushButton("Delete all…")
        self.delete_all_button.clicked.connect(self.delete_all)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        for button in (self.open_button, self.delete_button, self.delete_all_button):
            buttons.addWidget(button)
        buttons.addStretch()
        buttons.addWidget(close)
        layout.addLayout(buttons)
        # the turn just answered may still be on its way to the disk (well under 1 ms)
        self.store.flush(timeout=1.0)
        self.refresh()

    def refresh(self) -> None:
        query = self.search.text().strip()
        self.results.clear()
        if query:
            rows = [(f.conversation, f.excerpt) for f in self.store.search(query)]
        else:
            rows = [(c, None) for c in self.store.conversations()]
        if query:
            log.info("history search %r: %d found", query, len(rows))
        for conversation, excerpt in rows:
            item = QListWidgetItem(describe(conversation, excerpt))
            item.setData(Qt.ItemDataRole.UserRole, conversation.id)
            self.results.addItem(item)
        if rows:
            self.results.setCurrentRow(0)
            self.empty.hide()
        else:
            self.empty.setText(
                f"Nothing said or answered contains “{query}”."
                if query
                else "No conversations yet: what you ask is kept here."
            )
            self.empty.show()
        self.delete_all_button.setEnabled(bool(rows) or bool(query))
        self._enable()

    def selected(self) -> str | None:
        item = self.results.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _enable(self) -> None:
        chosen = self.selected() is not None
        self.open_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def open_selected(self) -> None:
        conversation_id = self.selected()
        if conversation_id is not None:
            self.chosen.emit(conversation_id)
            self.accept()

    def delete_selected(self) -> None:
        conversation_id = self.selected()
        if conversation_id is not None:
            self.history.forget(conversation_id)
            self.refresh()

    def delete_all(self) -> None:
        asked = QMessageBox.question(
            self,
            "Delete all conversations",
            "Delete every stored conversation? This can't be undone.",
        )
        if asked == QMessageBox.StandardButton.Yes:
            self.history.forget(None)
            self.refresh()
