"""The push-to-talk key system-wide, on X11 (off by default).

The window's own key works only while it has focus. On an X11 desktop a passive grab
(``XGrabKey`` on the root window) hands us the key whatever window has focus, and takes it
from every other application while enabled; so only keys that don't type text are accepted.
Wayland, macOS and Windows give applications no such grab: there the app says why and works
with the window's key.

Events are read on a private thread over its own X connection and reach Qt as queued
signals. X auto-repeat arrives as release/press pairs with one timestamp; those pairs are
swallowed, so a long hold is one recording.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
from collections.abc import Mapping

from PySide6.QtCore import QObject
from Xlib import XK, X, display, error

from desktop_app.keys.system_wide_key import SystemWideKey

log = logging.getLogger(__name__)

# Qt's key names (QKeySequence.toString) where X's keysym names differ.
X_NAMES = {
    "ScrollLock": "Scroll_Lock",
    "Media Play": "XF86_AudioPlay",
    "Media Stop": "XF86_AudioStop",
    "Media Next": "XF86_AudioNext",
    "Media Previous": "XF86_AudioPrev",
}
TYPING_KEYS = {"Space", "Return", "Enter", "Tab", "Backspace"}
# Keys no other application is likely to need while they are taken: function, pause-like and
# media keys. Lock keys would toggle on every recording; arrows, Esc and Del edit everywhere.
SPARE_KEYS = {"Pause", "ScrollLock", "Print", "Menu", *(f"F{n}" for n in range(1, 36))}
SUGGESTED = "a key that doesn't type, such as F9, Pause or Scroll Lock"
GRAB_HINT = (
    "The key is then taken from every other application: use one that doesn't type, "
    "such as F9, Pause or Scroll Lock."
)
# CapsLock and NumLock change the modifier state; the grab must hold whatever their state.
LOCK_VARIANTS = (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask)
# An auto-repeat's press follows its release at once, with the same timestamp.
REPEAT_WINDOW_S = 0.03

XK.load_keysym_group("xf86")


class HotkeyUnavailable(Exception):
    """Why the system-wide key can't be had here; the message is for the user."""


def wayland_session(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("XDG_SESSION_TYPE") == "wayland" or bool(env.get("WAYLAND_DISPLAY"))


def unavailable_reason(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why this desktop can't grab a key system-wide, or None when X11 may allow it."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return f"system-wide keys are supported on X11 desktops only, not on {platform}"
    if wayland_session(env):
        return (
            "Wayland does not let applications take a key system-wide; bind a desktop "
            "shortcut instead, or use an X11 session"
        )
    if not env.get("DISPLAY"):
        return "no X11 display (DISPLAY is not set)"
    return None


def keysym_for(key_name: str) -> int:
    """The X keysym of one of Qt's key names; keys that type text are refused."""
    if key_name in TYPING_KEYS or len(key_name) == 1:
        raise HotkeyUnavailable(
            f"{key_name!r} types text, and a system-wide key is taken from every other "
            f"application; choose {SUGGESTED}"
        )
    keysym = XK.string_to_keysym(X_NAMES.get(key_name, key_name))
    if keysym == X.NoSymbol or not (
        key_name in SPARE_KEYS or key_name.startswith("Media ")
    ):
        raise HotkeyUnavailable(
            f"{key_name!r} can't be used system-wide; choose {SUGGESTED}"
        )
    return keysym


class GlobalHotkey(SystemWideKey):
    def __init__(
        self, display_name: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.display_name = display_name
        self.repeats_swallowed = 0
        self._display: display.Display | None = None
        self._keycode = 0
        self._wake_r = self._wake_w = -1

    def unavailable(self) -> str | None:
        """Why this desktop can't grab a key, for the key dialog; None where it may."""
        return unavailable_reason() if self.display_name is None else None

    def hint(self) -> str:
        return GRAB_HINT

    def start(self, key_name: str) -> None:
        """Grab ``key_name`` on the whole X display; raises HotkeyUnavailable saying why."""
        self.stop()
        keysym = keysym_for(key_name)
        if self.display_name is None:
            reason = unavailable_reason()
            if reason:
                raise HotkeyUnavailable(reason)
        try:
            self._display = display.Display(self.display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise HotkeyUnavailable(f"can't reach the X display: {exc}") from exc
        self.key_name = key_name
        try:
            self._keycode = self._display.keysym_to_keycode(keysym)
            if not self._keycode:
                raise HotkeyUnavailable(f"this keyboard has no {key_name} key")
            self._grab()
        except BaseException:
            self._close_display()
            self.key_name = None
            raise
        self._wake_r, self._wake_w = os.pipe()
        self._ended.clear()
        self._thread = threading.Thread(
            target=self._run, name="ptt-hotkey", daemon=True
        )
        self._thread.start()
        log.info("push-to-talk key %s grabbed system-wide", key_name)

    def stop(self) -> None:
        """Give the key back; the reading thread ends before this returns."""
        if self._thread is not None:
            os.write(self._wake_w, b"x")
            self._thread.join(timeout=2)
            if self._thread.is_alive():  # an X server that stopped answering
                log.warning(
                    "the system-wide key's thread did not end; left as a daemon"
                )
            self._thread = None
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
            log.info("push-to-talk key %s released system-wide", self.key_name)
        self._close_display()

    def _grab(self) -> None:
        root = self._display.screen().root
        taken = error.CatchError(error.BadAccess)
        for modifiers in LOCK_VARIANTS:
            root.grab_key(
                self._keycode,
                modifiers,
                True,
                X.GrabModeAsync,
                X.GrabModeAsync,
                onerror=taken,
            )
        self._display.sync()
        if taken.get_error() is not None:
            self._ungrab()
            raise HotkeyUnavailable(
                f"{self.key_name} is already taken system-wide by another "
                f"application; choose another key"
            )

    def _ungrab(self) -> None:
        root = self._display.screen().root
        for modifiers in LOCK_VARIANTS:
            root.ungrab_key(self._keycode, modifiers)
        self._display.sync()

    def _close_display(self) -> None:
        if self._display is not None:
            with contextlib.suppress(Exception):  # the server may already be gone
                self._display.close()
            self._display = None

    def _run(self) -> None:
        held = False
        lost = ""
        release_time: int | None = None  # a release that may be half of an auto-repeat
        connection = self._display.fileno()
        try:
            while True:
                timeout = REPEAT_WINDOW_S if release_time is not None else None
                ready, _, _ = select.select([connection, self._wake_r], [], [], timeout)
                if self._wake_r in ready:
                    break
                if not ready:  # no press followed the release: the key is up
                    if held:
                        self.released.emit()
                    release_time, held = None, False
                    continue
                while self._display.pending_events():
                    event = self._display.next_event()
                    if event.type == X.MappingNotify:
                        self._remap(event)
                    elif getattr(event, "detail", None) != self._keycode:
                        continue
                    elif event.type == X.KeyRelease:
                        release_time = event.time
                    elif event.type == X.KeyPress:
                        if release_time == event.time:
                            self.repeats_swallowed += 1
                        else:
                            if held and release_time is not None:
                                self.released.emit()  # a real release, then a new press
                            held = True
                            self.pressed.emit()
                        release_time = None
        except Exception as exc:  # noqa: BLE001 - the X server went away, or a remap failed
            log.warning("system-wide key lost: %s", exc)
            lost = (
                "the X display closed"
                if isinstance(exc, error.ConnectionClosedError)
                else str(exc)
            )
        finally:
            if held:  # turned off or lost mid-hold: the recording must not stay on
                self.released.emit()
            with contextlib.suppress(Exception):  # a closed connection holds no grab
                self._ungrab()
        self._ended.set()  # before the note: its handler must see the grab is gone
        if lost:
            self.failed.emit(f"The system-wide push-to-talk key is off: {lost}.")

    def _remap(self, event) -> None:
        """The keyboard mapping changed (xmodmap, a new layout): follow the key."""
        self._display.refresh_keyboard_mapping(event)
        keysym = keysym_for(self.key_name)
        keycode = self._display.keysym_to_keycode(keysym)
        if keycode and keycode != self._keycode:
            self._ungrab()
            self._keycode = keycode
            self._grab()
