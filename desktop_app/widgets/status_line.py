"""The status bar's line of text, which fits any window width."""

from __future__ import annotations

from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class StatusLine(QLabel):
    """One line, cut to the width it is given with "…" at the end, the whole of it in the
    tooltip. A plain QLabel asks for its whole text's width: a long load error made the
    window's minimum wider than half a screen (942 px), and wider than the screen itself
    when it came while the window was open."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)  # it quotes load errors
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        super().setText(text)
        # escaped (it quotes load errors, a server's HTML page even) and wrapped
        self.setToolTip(QtGui.Qt.convertFromPlainText(text))

    def shown_text(self) -> str:
        """The text as it fits now."""
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )

    def paintEvent(self, _event) -> None:
        with QPainter(self) as painter:  # pen and font: the label's palette and font
            painter.drawText(
                self.contentsRect(),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                self.shown_text(),
            )
