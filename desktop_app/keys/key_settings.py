"""The talk key's settings: which key, and whether it also works system-wide; both chosen in
the key dialog and remembered (QSettings). The window's key (``PushToTalk``) and the
system-wide one are kept on the same key: an X11 grab (``GlobalHotkey``), or on Wayland the
desktop's GlobalShortcuts portal (``PortalShortcut``).

It reports by signals: ``note`` for the chat, ``hint_changed`` for the window's key hint."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QWidget

from desktop_app.keys.global_hotkey import (
    GlobalHotkey,
    HotkeyUnavailable,
    wayland_session,
)
from desktop_app.keys.portal_shortcut import PortalShortcut
from desktop_app.keys.push_to_talk import PushToTalk
from desktop_app.keys.system_wide_key import SystemWideKey
from desktop_app.widgets.key_dialog import KeyDialog


class KeySettings(QObject):
    note = Signal(str)
    hint_changed = Signal(str, bool)  # the key's name, whether it works system-wide

    def __init__(
        self,
        push_to_talk: PushToTalk,
        settings: QSettings,
        hotkey: SystemWideKey | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ptt = push_to_talk
        self.settings = settings
        self.hotkey = hotkey or system_wide_key(self)
        self.hotkey.pressed.connect(push_to_talk.press_system_wide)
        self.hotkey.released.connect(push_to_talk.release)
        self.hotkey.failed.connect(self._hotkey_lost)
        if isinstance(self.hotkey, PortalShortcut):
            self.hotkey.bound.connect(self._portal_bound)

    def show_key(self) -> None:
        self.hint_changed.emit(self.ptt.key_name, self.hotkey.active)

    def restore(self) -> None:
        """At start-up: the system-wide key, if it was chosen."""
        if self.system_wide_wanted:
            # Unavailable this time (a Wayland session, say): say so, but keep the choice.
            self.set_system_wide(True, remember_failure=False)

    def set_push_to_talk_key(self, name: str) -> bool:
        old = self.ptt.key_name
        try:
            self.ptt.set_key(name)
        except ValueError as exc:
            self.note.emit(f"That key can't be used: {exc}.")
            return False
        if self.hotkey.active and self.ptt.key_name != self.hotkey.key_name:
            try:
                self.hotkey.start(self.ptt.key_name)
            except HotkeyUnavailable as exc:
                self.ptt.set_key(old)
                self.note.emit(
                    f"{name} can't be the system-wide key: {exc}. The key stays {old}."
                )
                self._regrab()
                return False
        self.settings.setValue("ui/push_to_talk_key", self.ptt.key_name)
        self.show_key()
        return True

    def set_system_wide(self, enabled: bool, *, remember_failure: bool = True) -> bool:
        """Make the push-to-talk key work whatever window has focus (X11), or stop."""
        done = True
        if enabled:
            try:
                self.hotkey.start(self.ptt.key_name)
            except HotkeyUnavailable as exc:
                self.note.emit(f"The key can't work system-wide: {exc}.")
                done = False
        else:
            self.hotkey.stop()
        if done or remember_failure:
            self.settings.setValue("ui/system_wide_key", enabled and done)
        self.show_key()
        return done

    def _regrab(self) -> None:
        """Take the old key back after a failed change; if even that fails, say so."""
        try:
            self.hotkey.start(self.ptt.key_name)
        except HotkeyUnavailable as exc:
            self._hotkey_lost(f"The system-wide key is off: {exc}.")

    def _portal_bound(self, trigger: str) -> None:
        if trigger and trigger != self.ptt.key_name:
            self.note.emit(
                f"The desktop bound the push-to-talk shortcut to {trigger}; the window's "
                f"own key stays {self.ptt.key_name}."
            )

    def _hotkey_lost(self, message: str) -> None:
        if self.hotkey.running:
            return  # from a grab since replaced by a working one
        self.hotkey.stop()
        if self.hotkey.refused:  # not asked again at every start
            self.settings.setValue("ui/system_wide_key", False)
        self.show_key()
        self.note.emit(message)

    @property
    def system_wide_wanted(self) -> bool:
        return self.settings.value("ui/system_wide_key", False, type=bool)

    def apply_key_choice(self, name: str, system_wide: bool) -> None:
        """What the key dialog chose; a key is changed before it is grabbed."""
        if not system_wide and (self.hotkey.active or self.system_wide_wanted):
            self.set_system_wide(False)
        if name and name != self.ptt.key_name:
            self.set_push_to_talk_key(name)
        if system_wide and not self.hotkey.active:
            self.set_system_wide(True)

    def key_dialog(self, parent: QWidget | None = None) -> None:
        """Ask for the key and whether it works system-wide, and apply the answer."""
        # the window per call, not kept: a part holding it could destroy it mid-teardown (gc)
        dialog = KeyDialog(
            self.ptt.key_name,
            self.hotkey.active or self.system_wide_wanted,
            self.hotkey.unavailable(),
            parent,
            hint=self.hotkey.hint(),
        )
        if dialog.exec():
            self.apply_key_choice(dialog.key_name, dialog.system_wide)

    def stop(self) -> None:
        """Quitting: give the system-wide key back."""
        self.hotkey.stop()


def system_wide_key(parent: QObject | None = None) -> SystemWideKey:
    """The X11 grab, or on a Wayland session the desktop's portal (X11 can't reach there)."""
    if sys.platform.startswith("linux") and wayland_session():
        return PortalShortcut(parent=parent)
    return GlobalHotkey(parent=parent)
