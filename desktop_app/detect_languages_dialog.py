"""Detect among…: the languages detection may choose, ticked in a list (none: any)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.languages import WHISPER_LANGUAGES
from desktop_app.widgets.ok_cancel import ok_cancel


class DetectLanguagesDialog(QDialog):
    chosen = Signal(list)  # the ticked codes, in the list's order; empty: any language

    def __init__(self, offered: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Detect among")
        layout = QVBoxLayout(self)
        hint = QLabel(
            "Each clip is heard in the likeliest of the languages ticked, so a noisy or "
            "unclear one is not taken for a language you never speak. None ticked: any "
            "language."
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.languages = QListWidget()
        self.offered = list(offered)
        self.tick(())
        layout.addWidget(self.languages)
        layout.addWidget(ok_cancel(self))
        self.resize(320, 420)

    def tick(self, codes: Sequence[str]) -> None:
        """The list anew: the offered languages (and any others in ``codes``), ``codes``
        ticked."""
        self.languages.clear()
        for code in dict.fromkeys([*self.offered, *codes]):
            item = QListWidgetItem(WHISPER_LANGUAGES.get(code, code))
            item.setData(Qt.ItemDataRole.UserRole, code)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if code in codes else Qt.CheckState.Unchecked
            )
            self.languages.addItem(item)
        self.languages.setCurrentRow(0)  # Space ticks it, the arrows move

    def ticked(self) -> list[str]:
        items = (self.languages.item(row) for row in range(self.languages.count()))
        return [
            item.data(Qt.ItemDataRole.UserRole)
            for item in items
            if item.checkState() == Qt.CheckState.Checked
        ]

    def accept(self) -> None:
        self.chosen.emit(self.ticked())
        super().accept()
