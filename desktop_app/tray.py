"""The tray icon, where the desktop has a tray (a StatusNotifier host, or an X11 system
tray): it shows whether the app is idle, listening or answering; its menu shows and hides
the window, keeps the app running in the tray when the window is closed (remembered), and
quits. A click on the icon shows or hides the window. With the window hidden, the
system-wide key and ``ptt-assistant --toggle`` go on working."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from desktop_app.main_window import MainWindow

log = logging.getLogger(__name__)

# The icon's colour says the state at a glance, as a microphone's light would.
STATES = {
    "idle": ("#7a7f87", "idle"),
    "listening": ("#d93025", "listening…"),
    "answering": ("#1a73e8", "answering…"),
}


def state_icon(state: str) -> QIcon:
    colour = QColor(STATES[state][0])
    icon = QIcon()
    for size in (16, 22, 32, 64):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        margin = max(1, size // 8)
        painter.drawEllipse(margin, margin, size - 2 * margin, size - 2 * margin)
        painter.setBrush(QColor("white"))  # a microphone's head and stem
        w = size // 4
        painter.drawRoundedRect(
            size // 2 - w // 2, size // 4, w, size // 3, w / 2, w / 2
        )
        painter.drawRect(
            size // 2 - max(1, size // 32), size * 5 // 8, max(2, size // 16), size // 8
        )
        painter.end()
        icon.addPixmap(pixmap)
    return icon


class Tray(QObject):
    def __init__(
        self, window: MainWindow, settings: QSettings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.settings = settings
        self.state = "idle"
        self.icon: QSystemTrayIcon | None = None
        self._icons = {state: state_icon(state) for state in STATES}
        self._told_hidden = False

    @property
    def available(self) -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def start(self) -> None:
        """Show the icon where there is a tray; closing the window then hides it there."""
        if not self.available:
            log.info("no system tray here: closing the window quits")
            return
        self.icon = QSystemTrayIcon(self._icons["idle"], self)
        menu = QMenu(self.window)
        self.toggle_action = menu.addAction("Hide window")
        self.toggle_action.triggered.connect(self.toggle_window)
        self.keep_action = QAction("Keep running in the tray when closed", menu)
        self.keep_action.setCheckable(True)
        self.keep_action.setChecked(self.keep_running)
        self.keep_action.toggled.connect(self._set_keep_running)
        menu.addAction(self.keep_action)
        menu.addSeparator()
        menu.addAction("Quit").triggered.connect(self.window.quit_app)
        menu.aboutToShow.connect(self._name_toggle)
        self.icon.setContextMenu(menu)
        self.icon.activated.connect(self._activated)
        self.window.hidden_to_tray.connect(self._hidden)
        self.set_state("idle")
        self.icon.show()
        self.window.close_to_tray = self.keep_running
        log.info("tray icon shown")

    @property
    def keep_running(self) -> bool:
        return self.settings.value("ui/close_to_tray", True, type=bool)

    def _set_keep_running(self, keep: bool) -> None:
        self.settings.setValue("ui/close_to_tray", keep)
        self.window.close_to_tray = keep

    def set_state(self, state: str) -> None:
        self.state = state
        if self.icon is not None:
            self.icon.setIcon(self._icons[state])
            self.icon.setToolTip(f"Push-to-talk assistant: {STATES[state][1]}")

    def toggle_window(self) -> None:
        if self.window.isVisible():
            self.window.hide()
            log.info("window hidden to the tray")
        else:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()
            log.info("window shown from the tray")

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()

    def _name_toggle(self) -> None:
        self.toggle_action.setText(
            "Hide window" if self.window.isVisible() else "Show window"
        )

    def _hidden(self) -> None:
        log.info("window closed to the tray")
        if not self._told_hidden and self.icon is not None:
            self._told_hidden = True  # once a session: where the window went
            self.icon.showMessage(
                "Still running",
                "The assistant is in the tray; the system-wide key and ptt-assistant "
                "--toggle still work. Quit from its menu.",
                QSystemTrayIcon.MessageIcon.Information,
                5000,
            )

    def stop(self) -> None:
        if self.icon is not None:
            self.icon.hide()
            self.icon = None
