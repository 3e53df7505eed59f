"""The window's colours and fonts, set on the widgets that need them.

Not a window-wide style sheet: one on the window routes every widget in it (every label and
button of every bubble) through QStyleSheetStyle for sizing, showing and painting, which made
each chat update ~40% slower (7.5 against 12.5 ms to add a turn after 20 turns, side by side).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QFrame, QLabel, QWidget

# Text colours as (on a light window, on a dark one), picked by the window's palette: each
# at least 4.5:1 against the chat and its bubbles (WCAG AA). The dark-theme ones, used on
# light windows too before, gave the notes 1.9-2.2:1 and the badges 2.4-2.7:1 there.
Colour = tuple[str, str]
MUTED: Colour = ("#59636e", "#a1a9b3")
NOTE: Colour = ("#7d4e00", "#d29922")
WARNING: Colour = ("#cf222e", "#ff7b72")
BADGE_PIXELS = 11
# Only the talk button keeps a style sheet: its own, so only it pays for one.
TALK_BUTTON_STYLE = """
QPushButton { padding: 8px 18px; font-weight: bold; }
QPushButton:pressed { background: #f85149; color: white; }
"""


def for_palette(colour: Colour, palette: QPalette) -> QColor:
    """The variant of ``colour`` for a window painted with ``palette``."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    return QColor(colour[1] if dark else colour[0])


def tint(
    label: QLabel,
    colour: Colour | None,
    *,
    italic: bool = False,
    bold: bool = False,
    pixel_size: int | None = None,
) -> None:
    """Give a label a text colour (None: the palette's own) and font, in place of a style
    sheet rule."""
    palette = label.palette()
    role = QPalette.ColorRole.WindowText
    palette.setColor(
        role,
        for_palette(colour, palette) if colour is not None else QPalette().color(role),
    )
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


# A thin, flat scroll bar for the chat, drawn again each time the conversation grows:
# several times cheaper to paint than Fusion's.
CHAT_SCROLL_BAR_STYLE = """
QScrollBar:vertical { width: 10px; background: transparent; margin: 0; }
QScrollBar::handle:vertical { background: rgba(139, 148, 158, 110); border-radius: 4px;
                              min-height: 24px; margin: 1px; }
QScrollBar::handle:vertical:hover { background: rgba(139, 148, 158, 170); }
QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical { height: 0; }
QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical { background: none; }
"""


class Bubble(QFrame):
    """A frame painted as a rounded, tinted bubble behind its contents: a fill without an
    outline, since stroking one was half the cost of each bubble in every repaint."""

    def __init__(self, fill: QColor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fill = fill

    def paintEvent(self, _event) -> None:
        # ended on return, whatever keeps this frame alive
        with QPainter(self) as painter:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._fill)
            painter.drawRoundedRect(QRectF(self.rect()), 10, 10)
