"""Push-to-talk: hold a key (or the button) to record, release to send.

An application-wide event filter sees the key wherever focus is. Held keys auto-repeat as
press/release pairs; those are swallowed, so a long hold is one recording. Qt flags them
``isAutoRepeat()``, but on X11 only when the pair reaches it together, so there a release is
also checked against the X server's own key state (``x11_key_state``). Losing the window while the key is down counts as a release, so a recording never
gets stuck on; a hold of the system-wide key (``global_hotkey``) is not the window's, so it
survives focus changes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDialog,
    QKeySequenceEdit,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)

from desktop_app.keys.x11_key_state import X11KeyState

DEFAULT_KEY = "Space"


class PushToTalk(QObject):
    pressed = Signal()
    released = Signal()

    def __init__(
        self,
        key: str = DEFAULT_KEY,
        parent: QObject | None = None,
        key_state: X11KeyState | None = None,
    ) -> None:
        super().__init__(parent)
        self.held = False
        self.system_wide_hold = False
        self.key_state = key_state
        # Auto-repeat events of the current hold: flagged by Qt, and releases Qt did not flag
        # but the X server still held the key down.
        self.repeats_flagged = 0
        self.repeats_caught = 0
        self.key = Qt.Key.Key_Space
        self.set_key(key)

    def set_key(self, key: str) -> None:
        sequence = QKeySequence(key)
        if sequence.isEmpty() or sequence.count() != 1:
            raise ValueError(f"push-to-talk needs one key, got {key!r}")
        combo = sequence[0]
        if combo.keyboardModifiers() != Qt.KeyboardModifier.NoModifier:
            raise ValueError(
                f"push-to-talk needs a single key without modifiers, got {key!r}"
            )
        self.key = combo.key()

    @property
    def key_name(self) -> str:
        return QKeySequence(self.key).toString()

    def press(self) -> None:
        self._hold(system_wide=False)

    def press_system_wide(self) -> None:
        self._hold(system_wide=True)

    def _hold(self, system_wide: bool) -> None:
        if not self.held:
            self.held, self.system_wide_hold = True, system_wide
            self.repeats_flagged = self.repeats_caught = 0
            self.pressed.emit()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.released.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if (
            kind
            in (
                QEvent.Type.ShortcutOverride,
                QEvent.Type.KeyPress,
                QEvent.Type.KeyRelease,
            )
            and not self.held
            and keys_belong_elsewhere()
        ):
            return False  # a text field or a dialog (History…, Detect among…) has them
        if kind == QEvent.Type.ShortcutOverride and event.key() == self.key:
            # the talk key comes as a key press even where a shortcut has it (Esc: Stop)
            event.accept()
            return True
        if (
            kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
            and event.key() == self.key
        ):
            if event.isAutoRepeat():
                self.repeats_flagged += 1
            elif kind == QEvent.Type.KeyPress:
                self.press()
            elif self._still_down(event):
                self.repeats_caught += 1
            else:
                self.release()
            return True  # the key is ours: it must not also click a focused button
        if kind == QEvent.Type.ApplicationDeactivate and not self.system_wide_hold:
            self.release()
        return False

    def _still_down(self, event: QKeyEvent) -> bool:
        """An unflagged release of a key the X server still holds down: auto-repeat."""
        if self.key_state is None or not self.held:
            return False
        return self.key_state.is_down(event.nativeScanCode()) is True

    def close(self) -> None:
        if self.key_state is not None:
            self.key_state.close()


TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QKeySequenceEdit, QAbstractSpinBox)


def keys_belong_elsewhere() -> bool:
    """Whether the talk key must reach the focused widget: it takes typed text, or it is
    in a dialog (where Space ticks, chooses, presses), not the window that talks."""
    focused = QApplication.focusWidget()
    if focused is not None and isinstance(focused.window(), QDialog):
        return True
    return typing_has_focus()


def typing_has_focus() -> bool:
    """Whether the focused widget takes typed text, so the talk key must type there."""
    focused = QApplication.focusWidget()
    if isinstance(focused, QTextEdit | QPlainTextEdit):
        return not focused.isReadOnly()
    return isinstance(focused, TEXT_INPUTS)
