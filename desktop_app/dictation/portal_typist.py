"""Typing through the desktop's RemoteDesktop portal (GNOME, KDE): the way a Wayland desktop
without the virtual-keyboard protocol lets an application type into the focused window.

The first dictation asks the desktop for a keyboard (it shows a dialog: "Allow remote
interaction"); the session then stays open for the next ones, and the desktop's restore
token is kept (``$XDG_STATE_HOME/ptt-assistant/remote-desktop-token``) so a later start does
not ask again where the desktop allows that. Each character is sent as its keysym, pressed
and released (``NotifyKeyboardKeysym``)."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path

from jeepney import DBusAddress
from jeepney.io.blocking import DBusConnection
from jeepney.wrappers import DBusErrorResponse

from desktop_app import portal
from desktop_app.dictation.typist import TypingFailed
from desktop_app.portal import PORTAL_NAME, PORTAL_PATH, PortalClosed

log = logging.getLogger(__name__)

REMOTE_DESKTOP = "org.freedesktop.portal.RemoteDesktop"
KEYBOARD = 1  # SelectDevices' device types: 1 keyboard, 2 pointer, 4 touchscreen
PERSIST_UNTIL_REVOKED = 2
# Long enough for a person to read the desktop's dialog and answer it.
DIALOG_TIMEOUT_S = 120.0
KEYSYMS = {
    "backspace": 0xFF08,
    "ctrl": 0xFFE3,
    "shift": 0xFFE1,
    "alt": 0xFFE9,
    "insert": 0xFF63,
    "\n": 0xFF0D,  # Return
    "\t": 0xFF09,
}
NO_PORTAL = (
    "this desktop's portal offers no RemoteDesktop: install wtype (Sway, Hyprland, niri) "
    "or ydotool with its daemon"
)


def keysym_of(char: str) -> int:
    """X's keysym for one character: Latin-1 as itself, the rest as Unicode keysyms."""
    if char in KEYSYMS:
        return KEYSYMS[char]
    code = ord(char)
    return code if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF else 0x01000000 + code


def token_file(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "ptt-assistant" / "remote-desktop-token"


class PortalTypist:
    """Types through the RemoteDesktop portal; blocking, off the GUI thread."""

    name = "the RemoteDesktop portal"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = env
        self._connection: DBusConnection | None = None
        self._session: str | None = None
        self._lock = threading.Lock()

    def type(self, text: str) -> None:
        self._keys([(keysym_of(char), None) for char in text])

    def erase(self, count: int) -> None:
        self._keys([(KEYSYMS["backspace"], None)] * count)

    def press(self, keys: str) -> None:
        names = keys.lower().split("+")
        syms = [KEYSYMS.get(name) or keysym_of(name) for name in names]
        presses = [(sym, 1) for sym in syms] + [(sym, 0) for sym in reversed(syms)]
        self._keys(presses)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _keys(self, keys: list[tuple[int, int | None]]) -> None:
        """Each (keysym, state): state None is a press and its release."""
        with self._lock:
            connection, session = self._started()
            remote = DBusAddress(PORTAL_PATH, PORTAL_NAME, REMOTE_DESKTOP)
            try:
                for keysym, state in keys:
                    for pressed in (1, 0) if state is None else (state,):
                        portal.call(
                            connection,
                            remote,
                            "NotifyKeyboardKeysym",
                            "oa{sv}iu",
                            (session, {}, keysym, pressed),
                        )
            except (DBusErrorResponse, OSError, TimeoutError) as exc:
                self._drop()  # the next dictation asks for a new session
                raise TypingFailed(
                    f"the RemoteDesktop portal stopped typing ({exc})"
                ) from exc

    def _started(self) -> tuple[DBusConnection, str]:
        """The open session, or a new one (the desktop may ask the user first)."""
        if self._connection is not None and self._session is not None:
            return self._connection, self._session
        try:
            connection, _version = portal.connect(REMOTE_DESKTOP, NO_PORTAL, self.env)
        except PortalClosed as exc:
            raise TypingFailed(str(exc)) from exc
        try:
            session = self._start(connection)
        except PortalClosed as exc:
            connection.close()
            raise TypingFailed(f"the desktop did not allow typing: {exc}") from exc
        except (DBusErrorResponse, OSError, TimeoutError) as exc:
            connection.close()
            raise TypingFailed(f"the RemoteDesktop portal failed ({exc})") from exc
        self._connection, self._session = connection, session
        return connection, session

    def _start(self, connection: DBusConnection) -> str:
        created = portal.request(
            connection,
            REMOTE_DESKTOP,
            "CreateSession",
            "a{sv}",
            (),
            {"session_handle_token": ("s", "ptt_" + secrets.token_hex(6))},
            "typing",
            timeout=portal.CALL_TIMEOUT_S,
        )
        session = str(created["session_handle"][1])
        options = {
            "types": ("u", KEYBOARD),
            "persist_mode": ("u", PERSIST_UNTIL_REVOKED),
        }
        saved = self._saved_token()
        if saved:
            options["restore_token"] = ("s", saved)
        portal.request(
            connection, REMOTE_DESKTOP, "SelectDevices", "oa{sv}", (session,), options,
            "typing", timeout=portal.CALL_TIMEOUT_S,
        )  # fmt: skip
        started = portal.request(
            connection, REMOTE_DESKTOP, "Start", "osa{sv}", (session, ""), {},
            "typing", timeout=DIALOG_TIMEOUT_S,
        )  # fmt: skip
        if not int(started.get("devices", ("u", 0))[1]) & KEYBOARD:
            raise PortalClosed("the desktop gave no keyboard")
        token = started.get("restore_token", ("s", ""))[1]
        if token:
            self._save_token(str(token))
        log.info("typing through the RemoteDesktop portal")
        return session

    def _saved_token(self) -> str:
        try:
            return token_file(self.env).read_text().strip()
        except OSError:
            return ""

    def _save_token(self, token: str) -> None:
        path = token_file(self.env)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(token)
            path.chmod(0o600)
        except (
            OSError
        ) as exc:  # the dialog is asked again next time: no worse than that
            log.warning("could not keep the RemoteDesktop token: %s", exc)

    def _drop(self) -> None:
        if self._connection is not None:
            if self._session is not None and not portal.closed(self._connection):
                session = DBusAddress(
                    self._session, PORTAL_NAME, "org.freedesktop.portal.Session"
                )
                try:
                    portal.call(self._connection, session, "Close")
                except (DBusErrorResponse, OSError, TimeoutError):
                    pass  # the portal may be gone already
            self._connection.close()
        self._connection = self._session = None
