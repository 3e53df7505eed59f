"""The conversation: user clips, answers growing chunk by chunk, timing badges, short notes."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop_app.widgets.look import CHAT_SCROLL_BAR_STYLE, Bubble, as_badge, as_note

HEARD_PENDING = "…"  # the heard line's text until the transcript arrives
USER_FILL = QColor(31, 111, 235, 40)
ANSWER_FILL = QColor(139, 148, 158, 40)


def remembered_height(
    heights: dict[int, int], width: int, lay_out: Callable[[int], int]
) -> int:
    """``lay_out(width)``, from ``heights`` when that width was asked before."""
    height = heights.get(width)
    if height is None:
        if len(heights) > 64:  # a window being resized asks for every width
            heights.clear()
        height = heights[width] = lay_out(width)
    return height


class WrappedLabel(QLabel):
    """A word-wrapped label that remembers its height for each width until its text, font
    or style changes. QLabel lays its text out anew each time it is asked, and a bubble's
    layout asks it several times, at several widths, whenever the bubble is laid out."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)
        self._heights: dict[int, int] = {}

    def setText(self, text: str) -> None:
        self._heights.clear()
        super().setText(text)

    def setMargin(self, margin: int) -> None:
        self._heights.clear()
        super().setMargin(margin)

    def heightForWidth(self, width: int) -> int:
        return remembered_height(self._heights, width, super().heightForWidth)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._heights.clear()
        super().changeEvent(event)


def untrusted_label(text: str = "") -> WrappedLabel:
    """A label for what the model said or heard. Always plain text: QLabel's default guesses,
    and would render an answer such as ``<img src=...>`` as HTML, loading what it names."""
    label = WrappedLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class UserBubble(Bubble):
    play_requested = Signal()

    def __init__(self, duration_s: float, parent: QWidget | None = None) -> None:
        super().__init__(USER_FILL, parent)
        self.setObjectName("userBubble")
        layout = BubbleLayout(self)
        row = QHBoxLayout()
        self.clip_label = QLabel()
        self.set_duration(duration_s)
        self.play_button = QPushButton("▶ Play")
        self.play_button.setToolTip("Play this recording")
        self.play_button.clicked.connect(self.play_requested)
        row.addWidget(self.clip_label)
        row.addStretch()
        row.addWidget(self.play_button)
        layout.addLayout(row)
        self.heard_label = untrusted_label()
        self.heard_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.heard_label.hide()
        layout.addWidget(self.heard_label)

    def set_duration(self, duration_s: float) -> None:
        self.clip_label.setText(f"Your clip · {duration_s:.1f} s")

    def show_typed(self, text: str) -> None:
        """A typed question: its words, and no clip to play."""
        self.clip_label.setText("You typed")
        self.play_button.hide()
        self.heard_label.setText(text)
        self.heard_label.show()

    def expect_heard(self) -> None:
        """Keep a line for what the recogniser will hear, from the start: arriving in its
        place, a one-line transcript grows nothing, so the column neither lays out again
        nor scrolls (repainting the whole view) while the model holds the cores."""
        self.heard_label.setText(HEARD_PENDING)
        self.heard_label.show()

    def set_heard(self, text: str) -> None:
        self.heard_label.setText(f"“{text}”")
        self.heard_label.show()

    def drop_expected_heard(self) -> None:
        """Nothing was heard after all (no speech, an error): no line kept for it."""
        if self.heard_label.text() == HEARD_PENDING:
            self.heard_label.hide()


class AnswerBubble(Bubble):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ANSWER_FILL, parent)
        self.setObjectName("answerBubble")
        layout = BubbleLayout(self)
        self.text_label = untrusted_label("…")  # "…" until the first chunk
        self.text_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        layout.addWidget(self.text_label)
        row = QHBoxLayout()
        self.badges = QLabel()
        as_badge(self.badges)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy this answer")
        self.copy_button.clicked.connect(self.copy)
        self.copy_button.setEnabled(False)  # until there is something to copy
        self.speaking_label = QLabel("speaking…")
        as_badge(self.speaking_label)
        self.speaking_label.hide()
        row.addWidget(self.badges)
        row.addWidget(self.speaking_label)
        row.addStretch()
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        self.actions_row = row
        self.chunks: list[str] = []
        self.interrupted = False
        self.note: str | None = None
        self.retry_button: QPushButton | None = None

    @property
    def text(self) -> str:
        return " ".join(self.chunks)

    def append(self, chunk: str) -> None:
        self.chunks.append(chunk)
        self.text_label.setText(self.text)
        self.copy_button.setEnabled(True)

    def set_badges(self, badges: list[str]) -> None:
        self.badges.setText("  ·  ".join(badges))

    def show_note(self, text: str) -> None:
        """The turn ended without an answer (no speech, an error): say so, in its place."""
        self.note = text
        self.text_label.setText(text)
        as_note(self.text_label)
        self.copy_button.hide()

    def offer_retry(self, retry: Callable[[], None]) -> None:
        """A failed turn whose input is kept: *Retry* asks again (once)."""
        if self.retry_button is None:
            self.retry_button = QPushButton("Retry")
            self.retry_button.setToolTip("Ask again with the same recording or text")
            self.actions_row.insertWidget(
                self.actions_row.count() - 1, self.retry_button
            )
        self.retry_button.clicked.connect(lambda: retry())  # not given clicked's bool
        self.retry_button.show()

    def retried(self) -> None:
        if self.retry_button is not None:
            self.retry_button.hide()

    def mark_interrupted(self) -> None:
        self.interrupted = True
        if self.chunks:
            self.text_label.setText(self.text + " …  [interrupted]")
        else:  # nothing to copy or read: a note, in the answer's place
            self.show_note("Stopped before the answer began.")

    def set_speaking(self, speaking: bool) -> None:
        self.speaking_label.setVisible(speaking)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text)


class NoteLabel(WrappedLabel):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)  # notes quote errors, paths, names
        as_note(self)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter)


class RememberedHeights:
    """A box layout that remembers its height for each width until something in it changes.
    Qt's remembers only the last width asked, and the column asks every row at two widths,
    several times, each time a bubble is added: every row of the conversation was laid out
    again (benchmarks/chat_view_scaling.py measures the cost per turn)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._heights: dict[int, int] = {}

    def heightForWidth(self, width: int) -> int:
        return remembered_height(self._heights, width, super().heightForWidth)

    def invalidate(self) -> None:
        # something inside changed its text, size or visibility: Qt invalidates up the chain
        self._heights.clear()
        super().invalidate()


def tell_layout_above(layout: QLayout) -> None:
    """Invalidate the layout that holds ``layout``'s widget, now. Qt does it only once the
    widget's own posted layout request is handled, after the column's when that was posted
    first (a row shown, then its text set): the column was then laid out with the bubble's
    old height, its text squeezed into it for a frame, then laid out and repainted again."""
    widget = layout.parentWidget()
    if widget is not None:
        widget.updateGeometry()


class BubbleLayout(QVBoxLayout):
    """A bubble's own layout: tells its row at once when what it holds changes size."""

    def invalidate(self) -> None:
        super().invalidate()
        tell_layout_above(self)


class Row(RememberedHeights, QHBoxLayout):
    """A bubble's row, the bubble beside a stretch: tells the column at once when the bubble
    changes size."""

    def invalidate(self) -> None:
        super().invalidate()
        tell_layout_above(self)


class Column(RememberedHeights, QVBoxLayout):
    """The bubbles' column, laid out at no less than the height its bubbles need.

    When a bubble grows, Qt lays the column out first at the old height (the scroll area
    resizes it only afterwards), squeezing every bubble a pixel or two and then growing them
    back: each resized, laid out and repainted twice, at several times the cost while the
    model holds the cores. Laid out at the needed height, the bubbles above keep their geometry and
    only the one that grew is touched."""

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(at_needed_height(self, rect))


def at_needed_height(layout: QLayout, rect: QRect) -> QRect:
    """``rect``, made as tall as ``layout`` needs at its width if it is shorter."""
    needed = layout.heightForWidth(rect.width())
    if rect.height() >= needed:
        return rect
    return QRect(rect.x(), rect.y(), rect.width(), needed)


class ChatView(QScrollArea):
    """A column of bubbles that keeps the newest in view while the user is at the bottom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.verticalScrollBar().setStyleSheet(CHAT_SCROLL_BAR_STYLE)
        body = QWidget()
        self.column = Column(body)
        self.column.addStretch()
        self.setWidget(body)
        self.verticalScrollBar().rangeChanged.connect(self._follow)
        self._at_bottom = True
        self.verticalScrollBar().valueChanged.connect(self._track)
        self._prepared: list[tuple[QWidget, QWidget]] = []  # (row, bubble), hidden
        self._has_turn = False  # a question or answer shown since the last clear
        # What an empty chat says: how to talk (set_welcome), not a blank panel.
        self.welcome = QLabel(self.viewport())
        self.welcome.setObjectName("welcome")
        self.welcome.setWordWrap(True)
        self.welcome.setTextFormat(Qt.TextFormat.RichText)
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
        self.welcome.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def set_welcome(self, html: str) -> None:
        self.welcome.setText(html)
        self._update_welcome()

    def _update_welcome(self) -> None:
        """Shown until the first turn, below any notes (a missing microphone, say)."""
        if not self.welcome.text() or self._has_turn:
            self.welcome.hide()
            return
        rows = self._rows()
        shown = rows[: len(rows) - len(self._prepared)]
        top = max((row.geometry().bottom() + 8 for row in shown), default=0)
        area = self.viewport().rect()
        self.welcome.setGeometry(0, top, area.width(), max(0, area.height() - top))
        self.welcome.show()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_welcome()

    def _track(self, value: int) -> None:
        self._at_bottom = value >= self.verticalScrollBar().maximum() - 4

    def _follow(self, _min: int, maximum: int) -> None:
        if self._at_bottom:
            self.verticalScrollBar().setValue(maximum)

    @staticmethod
    def _row(widget: QWidget, align: Qt.AlignmentFlag) -> QWidget:
        # Each bubble sits in a row with a stretch beside it, capped at most of the width, so
        # its word-wrapped labels get their full height.
        row = QWidget()
        layout = Row(row)
        layout.setContentsMargins(0, 0, 0, 0)
        if align != Qt.AlignmentFlag.AlignLeft:
            layout.addStretch(1)
        layout.addWidget(widget, 4)
        if align != Qt.AlignmentFlag.AlignRight:
            layout.addStretch(1)
        return row

    def _add(self, widget: QWidget, align: Qt.AlignmentFlag) -> None:
        row = self._row(widget, align)
        # before a prepared turn's hidden rows: they come after whatever is said meanwhile
        self.column.insertWidget(self.column.count() - 1 - len(self._prepared), row)
        self._show(row)

    def _show(self, row: QWidget) -> None:
        self._at_bottom = True
        row.show()  # now, not queued, so the window can draw it at once (draw_now)
        if self._has_turn:
            self.welcome.hide()
        else:  # below a note, once laid out; dropped if the chat is gone by then
            QTimer.singleShot(0, self, self._update_welcome)

    def prepare_turn(self) -> None:
        """Build the next turn's two bubbles now, hidden: called while the talk key is held
        and the machine is idle, so the turn's start only has to show them (building them
        took a third of it)."""
        if self._prepared:
            return
        for bubble, align in (
            (UserBubble(0.0), Qt.AlignmentFlag.AlignRight),
            (AnswerBubble(), Qt.AlignmentFlag.AlignLeft),
        ):
            row = self._row(bubble, align)
            row.hide()  # explicitly, so the column does not show it when added
            self.column.insertWidget(self.column.count() - 1, row)
            row.ensurePolished()
            self._prepared.append((row, bubble))

    def _take(self, kind: type) -> QWidget | None:
        """The prepared bubble of this kind, shown in its place, if it is the next one."""
        if not self._prepared or not isinstance(self._prepared[0][1], kind):
            return None
        row, bubble = self._prepared.pop(0)
        self._show(row)
        return bubble

    def add_user(self, duration_s: float) -> UserBubble:
        self._has_turn = True
        bubble = self._take(UserBubble)
        if bubble is not None:
            bubble.set_duration(duration_s)
            return bubble
        bubble = UserBubble(duration_s)
        self._add(bubble, Qt.AlignmentFlag.AlignRight)
        return bubble

    def add_answer(self) -> AnswerBubble:
        self._has_turn = True
        bubble = self._take(AnswerBubble)
        if bubble is not None:
            return bubble
        bubble = AnswerBubble()
        self._add(bubble, Qt.AlignmentFlag.AlignLeft)
        return bubble

    def add_note(self, text: str) -> NoteLabel:
        last = self._last_item()
        if isinstance(last, NoteLabel) and last.text() == text:
            return last  # said just now (the talk key pressed again with no mic, say)
        note = NoteLabel(text)
        self._add(note, Qt.AlignmentFlag.AlignHCenter)
        return note

    def _rows(self) -> list[QWidget]:
        """Every row, a prepared turn's hidden ones included."""
        return [self.column.itemAt(i).widget() for i in range(self.column.count() - 1)]

    def _last_item(self) -> QWidget | None:
        """The newest bubble or note shown."""
        shown = self.column.count() - 1 - len(self._prepared)  # less the stretch
        if shown <= 0:
            return None
        layout = self.column.itemAt(shown - 1).widget().layout()
        widgets = (layout.itemAt(i).widget() for i in range(layout.count()))
        return next((w for w in widgets if w is not None), None)

    def items(self) -> list[QWidget]:
        """The bubbles and notes, oldest first."""
        rows = self._rows()
        shown = rows[: len(rows) - len(self._prepared)]
        return [
            item.widget()
            for row in shown
            for item in (row.layout().itemAt(i) for i in range(row.layout().count()))
            if item.widget() is not None
        ]

    def clear(self) -> None:
        for row in self._rows():
            self.column.removeWidget(row)
            row.deleteLater()
        self._prepared.clear()
        self._has_turn = False
        self._update_welcome()
