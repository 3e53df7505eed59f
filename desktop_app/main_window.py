"""The window: layout only. The controller gives it life."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.widgets.chat_view import ChatView
from desktop_app.widgets.energy_meter import EnergyMeter
from desktop_app.widgets.flow_layout import FlowLayout
from desktop_app.widgets.look import TALK_BUTTON_STYLE, WARNING, tint
from desktop_app.widgets.status_line import StatusLine


def group(*widgets: QWidget) -> QWidget:
    """Controls kept together on one line of the top bar."""
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        row.addWidget(widget)
    return holder


class MainWindow(QMainWindow):
    closed = Signal()  # closed for good: the app shuts down
    hidden_to_tray = Signal()  # closed while a tray icon keeps the app running

    def __init__(self, threshold_dbfs: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Push-to-talk assistant")
        #: closing hides the window in the tray (``desktop_app.tray``) instead of quitting
        self.close_to_tray = False
        self.quitting = False
        self.resize(1180, 660)  # the top bar on one line; it wraps below ~1130 px

        self.mode_box = QComboBox()
        self.mode_box.addItem("Conversation", "conversation")
        self.mode_box.addItem("Transcribe", "transcribe")
        self.mode_box.addItem("Dictate", "dictate")
        self.mode_box.setToolTip(
            "Conversation: answer what you say. Transcribe: write it down here. "
            "Dictate: type it into the window that has focus"
        )
        self.new_button = QPushButton("New conversation")
        self.new_button.setToolTip("Clear the chat and the assistant's memory")
        self.history_button = QPushButton("History…")
        self.history_button.setToolTip(
            "Earlier conversations: search, reopen or delete them"
        )
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the conversation as Markdown or JSON")
        self.model_box = QComboBox()
        self.model_box.setToolTip(
            "What answers: the embedded model, a server, or a model to download"
        )
        self.language_box = QComboBox()
        # it grows with what detection chooses among ("Detect: English, German")
        self.language_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToContents
        )
        self.device_box = QComboBox()
        self.device_box.setToolTip("Microphone")
        self.output_box = QComboBox()
        self.output_box.setToolTip("Where spoken answers are played")
        top = FlowLayout()
        top.addWidget(
            group(
                self.mode_box, self.new_button, self.history_button, self.export_button
            )
        )
        top.addWidget(group(QLabel("Model:"), self.model_box))
        top.addWidget(group(QLabel("Language:"), self.language_box))
        top.addWidget(group(QLabel("Mic:"), self.device_box))
        top.addWidget(group(QLabel("Speaker:"), self.output_box))
        # Sized to a few characters, not to their longest entry (a model with its download
        # size, a sound card's full name): the window can then be half a screen wide.
        for box, characters in (
            (self.model_box, 14),
            (self.device_box, 12),
            (self.output_box, 12),
        ):
            box.setMinimumContentsLength(characters)
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )

        self.chat = ChatView()
        # A typed question: focused only by a click (or Ctrl+L), so the talk key talks.
        self.ask_field = QLineEdit()
        self.ask_field.setObjectName("askField")
        self.ask_field.setPlaceholderText("Or type a question and press Enter")
        self.ask_field.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.ask_field.setClearButtonEnabled(True)
        self.ask_field.setMaxLength(8000)
        focus = QAction("Type a question", self)
        focus.setShortcut(QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_L))
        focus.triggered.connect(self.ask_field.setFocus)
        self.addAction(focus)

        self.meter = EnergyMeter(threshold_dbfs)
        self.talk_button = QPushButton("Hold to talk")
        self.talk_button.setObjectName("talkButton")
        self.talk_button.setStyleSheet(TALK_BUTTON_STYLE)
        self.talk_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hint = QLabel()
        self.hint.setObjectName("hint")
        self.speak_button = QPushButton("Speak answers")
        self.speak_button.setCheckable(True)
        self.speak_button.setToolTip("Read each answer aloud as it streams")
        self.speak_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop the answer and its speech (Esc; pressing the talk key does too)"
        )
        # Not the button's own shortcut: that animates a click and stops late.
        stop_action = QAction("Stop", self)
        stop_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        stop_action.triggered.connect(self.stop_button.click)  # nothing while disabled
        stop_action.triggered.connect(
            self.ask_field.clearFocus
        )  # Esc: the key talks again
        self.addAction(stop_action)
        self.stop_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stop_button.setEnabled(False)
        self.undo_button = QPushButton("Undo dictation")
        self.undo_button.setToolTip(
            "Erase the last dictated text from the window it was typed into"
        )
        self.undo_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.undo_button.setEnabled(False)
        self.undo_button.hide()  # shown in Dictate mode
        self.key_button = QPushButton("Change…")
        self.key_button.setToolTip("Choose the push-to-talk key")
        self.key_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        bottom = QHBoxLayout()
        bottom.addWidget(self.meter, 1)
        bottom.addWidget(self.talk_button)
        bottom.addWidget(self.hint)
        bottom.addWidget(self.key_button)
        bottom.addWidget(self.undo_button)
        bottom.addWidget(self.speak_button)
        bottom.addWidget(self.stop_button)

        central = QWidget()
        column = QVBoxLayout(central)
        column.addLayout(top)
        column.addWidget(self.chat, 1)
        column.addWidget(self.ask_field)
        column.addLayout(bottom)
        self.setCentralWidget(central)

        self.status = StatusLine()
        self.status.setObjectName("status")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setTextVisible(False)
        self.retry_button = QPushButton("Retry")
        self.retry_button.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop loading; a download keeps what it has for next time"
        )
        self.cancel_button.hide()
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.retry_button)
        self.statusBar().addPermanentWidget(self.cancel_button)

        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        quit_action.triggered.connect(self.quit_app)
        self.addAction(quit_action)
        # Ctrl+N and Ctrl+H, as in browsers and chat apps.
        for button, keys in (
            (self.new_button, QKeySequence.StandardKey.New),
            (self.history_button, QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_H)),
        ):
            action = QAction(button.text(), self)
            action.setShortcut(keys)
            action.triggered.connect(button.click)
            self.addAction(action)
            button.setToolTip(f"{button.toolTip()} ({action.shortcut().toString()})")

    def quit_app(self) -> None:
        """Quit, whatever closing the window would do (Ctrl+Q, the tray's Quit, a signal)."""
        self.quitting = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_to_tray and not self.quitting:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
            return
        super().closeEvent(event)
        if event.isAccepted():
            self.closed.emit()

    def draw_now(self) -> None:
        """Lay out and paint what changed now, not on the event loop's next turn. At a turn's
        start, so its bubbles are drawn before the model takes the cores: while it computes,
        the same drawing takes several times as long and freezes the window."""
        # Only the drawing's own events: queued calls (a key from another thread, say) wait
        # for the event loop, not run in the middle of the caller.
        for kind in (
            QEvent.Type.PolishRequest,
            QEvent.Type.LayoutRequest,
            QEvent.Type.LayoutRequest,  # the scroll area's, in answer to the column's
            QEvent.Type.UpdateLater,
            QEvent.Type.UpdateRequest,
        ):
            QApplication.sendPostedEvents(None, kind)

    def set_key_hint(self, key_name: str, system_wide: bool = False) -> None:
        where = " anywhere" if system_wide else ""
        self.chat.set_welcome(welcome_text(key_name, system_wide))
        self.hint.setText(f"or hold <b>{key_name}</b>{where}")
        self.hint.setToolTip(
            "Works whatever window has focus"
            if system_wide
            else "While this window has focus"
        )

    def set_status(
        self,
        text: str,
        busy: bool = False,
        fraction: float | None = None,
        warning: bool = False,
    ) -> None:
        self.status.setText(text)
        if self.status.property("warning") != warning:
            self.status.setProperty("warning", warning)
            tint(self.status, WARNING if warning else None, bold=warning)
        self.progress.setVisible(busy)
        if busy:
            if fraction is None:
                self.progress.setRange(0, 0)  # indeterminate
            else:
                self.progress.setRange(0, 100)
                self.progress.setValue(int(fraction * 100))


def welcome_text(key_name: str, system_wide: bool) -> str:
    """What the empty chat says: how to talk, and what the modes do."""
    where = "in any window" if system_wide else "while this window has focus"
    return (
        f"<p><b>Hold {html.escape(key_name)}</b> ({where}) or the <b>Hold to talk</b> "
        "button, speak, and let go: the answer appears here as it is written.</p>"
        "<p><b>Conversation</b> answers your question · <b>Transcribe</b> writes down "
        "what you said · <b>Dictate</b> types it into the window that has focus.</p>"
        "<p><b>Change…</b> picks another key, or one that works system-wide. "
        "Ctrl+H: earlier conversations.</p>"
    )
