"""Push-to-talk: hold a key (or the button) to record, release to send.

An application-wide event filter sees the key wherever focus is. Held keys auto-repeat as
press/release pairs flagged ``isAutoRepeat()``; those are swallowed, so a long hold is one
recording. Losing the window while the key is down counts as a release, so a recording never
gets stuck on; a hold of the system-wide key (``global_hotkey``) is not the window's, so it
survives focus changes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeySequence

DEFAULT_KEY = "Space"


class PushToTalk(QObject):
    pressed = Signal()
    released = Signal()

    def __init__(self, key: str = DEFAULT_KEY, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.held = False
        self.system_wide_hold = False
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
        if not self.held:
            self.held, self.system_wide_hold = True, False
            self.pressed.emit()

    def press_system_wide(self) -> None:
        if not self.held:
            self.held, self.system_wide_hold = True, True
            self.pressed.emit()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.released.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if (
            kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease)
            and event.key() == self.key
        ):
            if not event.isAutoRepeat():
                self.press() if kind == QEvent.Type.KeyPress else self.release()
            return True  # the key is ours: it must not also click a focused button
        if kind == QEvent.Type.ApplicationDeactivate and not self.system_wide_hold:
            self.release()
        return False
