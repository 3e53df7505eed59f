"""The window's colours and fonts, set on the widgets that need them.

Not a window-wide style sheet: one on the window routes every widget in it (every label and
button of every bubble) through QStyleSheetStyle for sizing, showing and painting, which made
each chat update ~40% slower (7.5 against 12.5 ms to add a turn after 20 turns, side by side).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QLabel, QWidget

MUTED = QColor("#8b949e")
NOTE = QColor("#d29922")
WARNING = QColor("#f85149")
BADGE_PIXELS = 11
# Only the talk button keeps a style sheet: its own, so only it pays for one.
TALK_BUTTON_STYLE = """
QPushButton { padding: 8px 18px; font-weight: bold; }
QPushButton:pressed { background: #f85149; color: white; }
"""


def tint(
    label: QLabel,
    colour: QColor | None,
    *,
    italic: bool = False,
    bold: bool = False,
    pixel_size: int | None = None,
) -> None:
    """Give a label a text colour (None: the palette's own) and font, in place of a style
    sheet rule."""
    palette = label.palette()
    role = QPalette.ColorRole.WindowText
    palette.setColor(role, colour if colour is not None else QPalette().color(role))
    label.setPalette(palette)
    font = label.font()
    font.setItalic(italic)
    font.setBold(bold)
    if pixel_size is not None:
        font.setPixelSize(pixel_size)
    label.setFont(font)


def as_note(label: QLabel) -> None:
    """Amber italic, a little inset: what the app says, as against what was said."""
    tint(label, NOTE, italic=True)
    label.setMargin(4)


def as_badge(label: QLabel) -> None:
    tint(label, MUTED, pixel_size=BADGE_PIXELS)


class Bubble(QFrame):
    """A frame painted as a rounded, tinted bubble behind its contents."""

    def __init__(
        self, fill: QColor, edge: QColor, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._fill, self._edge = fill, edge

    def paintEvent(self, _event) -> None:
        with QPainter(
            self
        ) as painter:  # ended on return, whatever keeps the frame alive
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(self._edge, 1))
            painter.setBrush(self._fill)
            painter.drawRoundedRect(
                QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 10, 10
            )
