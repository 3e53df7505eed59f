"""Pick the push-to-talk key (press it once) and whether it works system-wide."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QKeySequenceEdit,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from desktop_app.keys.global_hotkey import GRAB_HINT
from desktop_app.widgets.ok_cancel import ok_cancel


class KeyDialog(QDialog):
    def __init__(
        self,
        current: str,
        system_wide: bool = False,
        unavailable: str | None = None,
        parent: QWidget | None = None,
        hint: str = GRAB_HINT,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Push-to-talk key")
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel("Press the key to hold while you talk (a single key, no modifiers):")
        )
        self.editor = QKeySequenceEdit()
        self.editor.setMaximumSequenceLength(1)
        self.editor.setKeySequence(current)
        layout.addWidget(self.editor)
        self.system_wide_box = QCheckBox(
            "Also when another window has focus (system-wide)"
        )
        self.system_wide_box.setChecked(system_wide)
        self.system_wide_box.setEnabled(unavailable is None or system_wide)
        layout.addWidget(self.system_wide_box)
        self.system_wide_hint = QLabel(
            f"Not available here: {unavailable}." if unavailable else hint
        )
        self.system_wide_hint.setTextFormat(Qt.TextFormat.PlainText)
        self.system_wide_hint.setWordWrap(True)
        self.system_wide_hint.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.system_wide_hint)
        buttons = ok_cancel(self)
        layout.addWidget(buttons)
        # Once the key is taken, Return confirms it (the editor would take Return as the
        # next key instead).
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.editor.editingFinished.connect(ok.setFocus)

    @property
    def key_name(self) -> str:
        return self.editor.keySequence().toString()

    @property
    def system_wide(self) -> bool:
        return self.system_wide_box.isChecked()
