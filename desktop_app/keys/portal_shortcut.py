"""The push-to-talk key system-wide on Wayland, through the desktop's GlobalShortcuts portal.

Wayland gives no application a key grab. Desktops that implement the XDG GlobalShortcuts
portal (GNOME 48+, KDE Plasma, Hyprland) bind a key for us instead, after asking the user,
and send ``Activated`` when it goes down and ``Deactivated`` when it comes up, so a hold is a
recording as on X11. The user may pick another key in the desktop's dialog or settings; what
was bound is reported by ``bound``.

The portal is asynchronous (each call answers later by a ``Request.Response`` signal, and the
desktop's dialog may wait on the user), so all of it runs on a private thread over its own
D-Bus connection; results reach Qt as queued signals, as with ``GlobalHotkey``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule, Message
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection
from PySide6.QtCore import QObject, Signal

from desktop_app import portal
from desktop_app.keys.global_hotkey import X_NAMES, HotkeyUnavailable, keysym_for
from desktop_app.keys.system_wide_key import SystemWideKey
from desktop_app.portal import POLL_S, PORTAL_NAME, PORTAL_PATH, PortalClosed

log = logging.getLogger(__name__)

SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
SHORTCUT_ID = "push-to-talk"
NO_PORTAL = (
    "this desktop's portal offers no GlobalShortcuts (GNOME 48+, KDE Plasma and Hyprland "
    "do); bind `ptt-assistant --start` and `--stop` to a desktop shortcut instead (README)"
)


def trigger_for(key_name: str) -> str:
    """The XDG shortcut trigger of one of Qt's key names; typing keys are refused."""
    keysym_for(key_name)  # the same keys as the X11 grab: never one that types
    return X_NAMES.get(key_name, key_name)


class PortalShortcut(SystemWideKey):
    bound = Signal(str)  # the desktop's words for the key it bound, e.g. "F9"

    def __init__(
        self, env: Mapping[str, str] | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.env = env
        self.trigger: str | None = None
        self._stop = threading.Event()
        self._held = False  # the thread's: the desktop's key is down

    def unavailable(self) -> str | None:
        if portal.session_bus_address(self.env) is None:
            return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
        return None

    def hint(self) -> str:
        return (
            "The desktop asks you to confirm the shortcut, and may let you pick another "
            "key; change it later in its keyboard settings."
        )

    def start(self, key_name: str) -> None:
        """Ask the desktop for ``key_name``; what it answers comes as ``bound`` or ``failed``."""
        self.stop()
        trigger = trigger_for(key_name)
        reason = self.unavailable()
        if reason:
            raise HotkeyUnavailable(reason)
        self.key_name, self.trigger, self.refused = key_name, None, False
        self._stop.clear()
        self._ended.clear()
        self._thread = threading.Thread(
            target=self._run, args=(trigger,), name="ptt-portal-key", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close the portal session; the thread ends before this returns."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=portal.CALL_TIMEOUT_S + 1)
        if self._thread.is_alive():
            log.warning("the portal key's thread did not end; left as a daemon")
        self._thread = None

    def _run(self, trigger: str) -> None:
        self._held = False
        lost = ""
        connection: DBusConnection | None = None
        try:
            connection = self._connect()
            session = self._bind(connection, trigger)
            self._listen(connection, session)
        except PortalClosed as exc:
            lost = str(exc)
        except (OSError, TimeoutError, ValueError) as exc:  # the bus went away
            lost = f"the D-Bus session bus failed ({exc})"
        except Exception as exc:  # a portal's odd answer: the key is off, and why
            log.exception("portal key failed")
            lost = f"the desktop portal answered unexpectedly ({exc})"
        finally:
            if self._held:  # off or lost mid-hold: the recording must not stay on
                self.released.emit()
            if connection is not None:
                connection.close()
        self._ended.set()
        if lost and not self._stop.is_set():
            log.warning("portal key lost: %s", lost)
            self.failed.emit(f"The system-wide push-to-talk key is off: {lost}.")

    def _connect(self) -> DBusConnection:
        connection, version = portal.connect(SHORTCUTS, NO_PORTAL, self.env)
        log.info("desktop portal GlobalShortcuts version %s", version)
        return connection

    def _bind(self, connection: DBusConnection, trigger: str) -> str:
        token = "ptt_" + secrets.token_hex(6)
        created = self._request(
            connection,
            "CreateSession",
            "a{sv}",
            (),
            {"session_handle_token": ("s", token)},
        )
        session = str(created["session_handle"][1])
        shortcut = {
            "description": ("s", "Push to talk (hold while you speak)"),
            "preferred_trigger": ("s", trigger),
        }
        bound = self._request(
            connection,
            "BindShortcuts",
            "oa(sa{sv})sa{sv}",
            (session, [(SHORTCUT_ID, shortcut)], ""),
            {},
        )
        self._report_bound(bound.get("shortcuts", ("", []))[1])
        return session

    def _report_bound(self, shortcuts: list[tuple[str, dict[str, Any]]]) -> None:
        for shortcut_id, properties in shortcuts:
            if shortcut_id == SHORTCUT_ID:
                described = properties.get("trigger_description", ("s", ""))[1]
                self.trigger = str(described) or self.trigger
                self.bound.emit(self.trigger or "")
                log.info("the desktop bound push-to-talk to %r", self.trigger)

    def _listen(self, connection: DBusConnection, session: str) -> None:
        """Presses and releases until asked to stop."""
        rules = [
            MatchRule(type="signal", interface=SHORTCUTS, path=PORTAL_PATH),
            MatchRule(
                type="signal",
                interface="org.freedesktop.DBus",
                member="NameOwnerChanged",
            ),
        ]
        rules[1].add_arg_condition(0, PORTAL_NAME)
        queue: deque[Message] = deque()
        with contextlib.ExitStack() as stack:
            for rule in rules:
                portal.call_bus(connection, message_bus.AddMatch(rule))
                stack.enter_context(connection.filter(rule, queue=queue))
            try:
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        connection.recv_messages(timeout=POLL_S)  # matches go to queue
                    while queue:
                        self._handle(queue.popleft(), session)
            finally:
                if not portal.closed(connection):  # best effort: the bus may be gone
                    with contextlib.suppress(Exception):
                        session_object = DBusAddress(
                            session, PORTAL_NAME, "org.freedesktop.portal.Session"
                        )
                        portal.call(connection, session_object, "Close")

    def _handle(self, message: Message, session: str) -> None:
        member = message.header.fields.get(HeaderFields.member)
        body = message.body
        if member == "NameOwnerChanged":
            if not body[2]:
                raise PortalClosed("the desktop portal stopped")
        elif not body or body[0] != session:
            pass
        elif member == "ShortcutsChanged":
            self._report_bound(body[1])
        elif body[1] != SHORTCUT_ID:
            pass
        elif member == "Activated" and not self._held:
            self._held = True
            self.pressed.emit()
        elif member == "Deactivated" and self._held:
            self._held = False
            self.released.emit()

    def _request(
        self,
        connection: DBusConnection,
        method: str,
        signature: str,
        args: tuple,
        options: dict[str, tuple[str, Any]],
    ) -> dict[str, tuple[str, Any]]:
        try:
            return portal.request(
                connection,
                SHORTCUTS,
                method,
                signature,
                args,
                options,
                "the shortcut",
                stop=self._stop,
            )
        except PortalClosed as exc:
            self.refused = exc.cancelled
            raise
