"""The ways dictated text reaches the window that has focus, found at run time:

* X11: XTest key events (python-xlib), a character at a time; a character the keyboard
  has no key for is put on a spare keycode for the moment it is typed, as xdotool does.
* Wayland: ``wtype`` (the virtual-keyboard protocol: Sway, Hyprland, niri, river...), the
  desktop's RemoteDesktop portal (GNOME, KDE: ``desktop_app.dictation.portal_typist``), or
  ``ydotool`` (a uinput daemon: any desktop).
* Paste: the text on the clipboard, the paste key pressed (Ctrl+V; Ctrl+Shift+V for
  terminals), and the user's clipboard put back afterwards (``desktop_app.dictation.paste``).
* Nothing can type: the text is left on the clipboard, with a note saying what to install.

Every typist is blocking and runs off the GUI thread; a failure is a ``TypingFailed`` whose
message is for the user.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

from Xlib import XK, X, display, error
from Xlib.ext import xtest

from desktop_app.dictation.portal_typist import PortalTypist
from desktop_app.dictation.typist import TypingFailed, Typist
from desktop_app.portal import session_bus_address

log = logging.getLogger(__name__)

#: how long a typing tool may take for one dictation before it is given up
TOOL_TIMEOUT_S = 10.0


def _run(command: Sequence[str], what: str) -> None:
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TypingFailed(f"{what} could not run: {exc}") from exc
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise TypingFailed(
            f"{what} failed ({said[-1] if said else f'exit {done.returncode}'})"
        )


# -- X11: XTest ------------------------------------------------------------------------


class XTestTypist:
    """Key events through the X server's XTest extension, over a connection of its own."""

    name = "XTest"

    def __init__(self, display_name: str | None = None) -> None:

        try:
            self._display = display.Display(display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise TypingFailed(f"no X display to type into: {exc}") from exc
        if not self._display.has_extension("XTEST"):
            self._display.close()
            raise TypingFailed("the X server has no XTEST extension")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._display.close()

    # Keysyms by character: Latin-1 is the character's code, the rest Unicode keysyms.
    @staticmethod
    def _keysym(char: str) -> int:

        named = {"\n": "Return", "\t": "Tab", " ": "space"}
        if char in named:
            return XK.string_to_keysym(named[char])
        code = ord(char)
        return code if 0x20 <= code <= 0xFF else 0x01000000 | code

    def _keycode_for(self, keysym: int) -> tuple[int, bool] | None:
        """A keycode that types ``keysym`` and whether it needs Shift, or None."""
        for keycode, index in self._display.keysym_to_keycodes(keysym):
            if index in (0, 1):
                return keycode, index == 1
        return None

    def _spare_keycodes(self) -> list[int]:
        low = self._display.display.info.min_keycode
        high = self._display.display.info.max_keycode
        mapping = self._display.get_keyboard_mapping(low, high - low + 1)
        return [low + i for i, syms in enumerate(mapping) if not any(syms)]

    def _tap(self, keycode: int, shift: bool) -> None:

        shift_code = self._display.keysym_to_keycode(XK.string_to_keysym("Shift_L"))
        if shift:
            xtest.fake_input(self._display, X.KeyPress, shift_code)
        xtest.fake_input(self._display, X.KeyPress, keycode)
        xtest.fake_input(self._display, X.KeyRelease, keycode)
        if shift:
            xtest.fake_input(self._display, X.KeyRelease, shift_code)

    def type(self, text: str) -> None:
        with self._lock:
            borrowed: dict[int, int] = {}  # keysym -> the spare keycode lent to it
            spare = self._spare_keycodes()
            try:
                for char in text:
                    keysym = self._keysym(char)
                    found = self._keycode_for(keysym)
                    if found is None:
                        if keysym not in borrowed:
                            if not spare:  # all lent: give them back, then lend again
                                self._give_back(borrowed)
                                spare = self._spare_keycodes()
                            if not spare:
                                raise TypingFailed(
                                    "the keyboard has no free keycode for "
                                    f"{char!r}: choose paste for dictation"
                                )
                            keycode = spare.pop()
                            self._display.change_keyboard_mapping(
                                keycode, [(keysym, keysym)]
                            )
                            self._display.sync()
                            borrowed[keysym] = keycode
                        found = borrowed[keysym], False
                    self._tap(*found)
                    self._display.sync()
            finally:
                self._give_back(borrowed)

    def _give_back(self, borrowed: dict[int, int]) -> None:
        if not borrowed:
            return
        # the client reads a key after the mapping it was typed with: wait before undoing
        time.sleep(0.05)
        for keycode in borrowed.values():
            self._display.change_keyboard_mapping(keycode, [(0, 0)])
        self._display.sync()
        borrowed.clear()

    def erase(self, count: int) -> None:
        self.press_many("BackSpace", count)

    def press_many(self, key: str, count: int) -> None:

        with self._lock:
            keycode = self._display.keysym_to_keycode(XK.string_to_keysym(key))
            for _ in range(count):
                self._tap(keycode, False)
            self._display.sync()

    def press(self, keys: str) -> None:

        names = {"ctrl": "Control_L", "shift": "Shift_L", "alt": "Alt_L"}
        *modifiers, key = keys.lower().split("+")
        key = {"insert": "Insert", "v": "v"}.get(key, key)
        with self._lock:
            codes = [
                self._display.keysym_to_keycode(XK.string_to_keysym(names[m]))
                for m in modifiers
            ]
            main = self._display.keysym_to_keycode(XK.string_to_keysym(key))
            for code in codes:
                xtest.fake_input(self._display, X.KeyPress, code)
            xtest.fake_input(self._display, X.KeyPress, main)
            xtest.fake_input(self._display, X.KeyRelease, main)
            for code in reversed(codes):
                xtest.fake_input(self._display, X.KeyRelease, code)
            self._display.sync()


# -- Wayland: wtype, ydotool -----------------------------------------------------------


class WtypeTypist:
    """``wtype``: the Wayland virtual-keyboard protocol (wlroots compositors)."""

    name = "wtype"

    def __init__(self, path: str) -> None:
        self.path = path

    # A moment before the first key: the application must have the new virtual keyboard's
    # keymap first, or the first character is lost (seen with Qt on sway).
    SETTLE = ("-s", "50")

    def type(self, text: str) -> None:
        _run([self.path, *self.SETTLE, "--", text], "wtype")

    def erase(self, count: int) -> None:
        if count:
            _run([self.path, *self.SETTLE, *["-k", "BackSpace"] * count], "wtype")

    def press(self, keys: str) -> None:
        *modifiers, key = keys.lower().split("+")
        held = [arg for m in modifiers for arg in ("-M", m)]
        released = [arg for m in reversed(modifiers) for arg in ("-m", m)]
        key = key.capitalize() if len(key) > 1 else key
        _run([self.path, *self.SETTLE, *held, "-k", key, *released], "wtype")


#: Linux input event codes (linux/input-event-codes.h), for ydotool
YDOTOOL_CODES = {
    "ctrl": 29,
    "shift": 42,
    "alt": 56,
    "v": 47,
    "insert": 110,
    "backspace": 14,
}


class YdotoolTypist:
    """``ydotool``: key events from a uinput device (needs its daemon, ydotoold)."""

    name = "ydotool"

    def __init__(self, path: str) -> None:
        self.path = path

    def type(self, text: str) -> None:
        _run([self.path, "type", "--", text], "ydotool (is ydotoold running?)")

    def erase(self, count: int) -> None:
        if count:
            code = YDOTOOL_CODES["backspace"]
            _run([self.path, "key", *[f"{code}:1", f"{code}:0"] * count], "ydotool")

    def press(self, keys: str) -> None:
        codes = [YDOTOOL_CODES[k] for k in keys.lower().split("+")]
        events = [f"{c}:1" for c in codes] + [f"{c}:0" for c in reversed(codes)]
        _run([self.path, "key", *events], "ydotool")


# -- which one -------------------------------------------------------------------------

#: what to install where nothing can type, by session
INSTALL_HINT = {
    "wayland": "install wtype (Sway, Hyprland, niri) or ydotool with its daemon (GNOME, "
    "KDE)",
    "x11": "the X server needs the XTEST extension",
}


def session_type(env: Mapping[str, str] | None = None) -> str | None:
    """``wayland``, ``x11`` or None (no graphical session), as the desktop declares it."""
    env = os.environ if env is None else env
    if env.get("WAYLAND_DISPLAY"):
        return "wayland"
    if env.get("DISPLAY"):
        return "x11"
    return None


def find_typists(
    env: Mapping[str, str] | None = None, which=shutil.which
) -> tuple[list[Typist], str]:
    """The typists this desktop offers, best first (a later one is tried when an earlier
    one fails: wtype on a compositor without the virtual-keyboard protocol), and a line
    saying what was found or what to install."""
    env = os.environ if env is None else env
    session = session_type(env)
    if session == "wayland":
        # XTest would reach only X11 windows under XWayland, not the focused Wayland one
        found: list[Typist] = []
        if which("wtype"):
            found.append(WtypeTypist(which("wtype")))
        if session_bus_address(env) is not None:  # where the desktop has a portal
            found.append(PortalTypist(env))
        if which("ydotool"):
            found.append(YdotoolTypist(which("ydotool")))
        if found:
            return found, "typing with " + ", else ".join(t.name for t in found)
        return (
            [],
            f"nothing can type on this Wayland desktop: {INSTALL_HINT['wayland']}",
        )
    if session == "x11":
        try:
            return [XTestTypist(env.get("DISPLAY"))], "typing with XTest"
        except TypingFailed as exc:
            return [], f"nothing can type here ({exc})"
    return [], "no graphical session to type into"
