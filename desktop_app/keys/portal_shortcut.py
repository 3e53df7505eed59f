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
import os
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any

from jeepney import (
    DBusAddress,
    HeaderFields,
    MatchRule,
    Message,
    MessageType,
    new_method_call,
)
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse, unwrap_msg
from PySide6.QtCore import QObject, Signal

from desktop_app.keys.global_hotkey import X_NAMES, HotkeyUnavailable, keysym_for

log = logging.getLogger(__name__)

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
# Host (unsandboxed) apps name themselves to portals 1.19+, which key shortcuts by app id.
APP_ID = "io.github.pttassistant.PttAssistant"
SHORTCUT_ID = "push-to-talk"
# How often the thread looks up from the bus to see whether it was asked to stop.
POLL_S = 0.2
CALL_TIMEOUT_S = 10.0
NO_PORTAL = (
    "this desktop's portal offers no GlobalShortcuts (GNOME 48+, KDE Plasma and Hyprland "
    "do); bind `ptt-assistant --start` and `--stop` to a desktop shortcut instead (README)"
)


def session_bus_address(env: Mapping[str, str] | None = None) -> str | None:
    """The D-Bus session bus's address, or None where there is none."""
    env = os.environ if env is None else env
    if env.get("DBUS_SESSION_BUS_ADDRESS"):
        return env["DBUS_SESSION_BUS_ADDRESS"]
    runtime = env.get(
        "XDG_RUNTIME_DIR"
    )  # systemd's user bus, when the variable is unset
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return None


def trigger_for(key_name: str) -> str:
    """The XDG shortcut trigger of one of Qt's key names; typing keys are refused."""
    keysym_for(key_name)  # the same keys as the X11 grab: never one that types
    return X_NAMES.get(key_name, key_name)


class PortalClosed(Exception):
    """The portal refused, the user cancelled, or the bus went away: the message says."""


class PortalShortcut(QObject):
    pressed = Signal()
    released = Signal()
    failed = Signal(str)
    bound = Signal(str)  # the desktop's words for the key it bound, e.g. "F9"

    def __init__(
        self, env: Mapping[str, str] | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.env = env
        self.key_name: str | None = None
        self.trigger: str | None = None
        self.refused = False  # the user said no in the desktop's dialog
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ended = threading.Event()  # set by the thread before it says why it ended
        self._held = False  # the thread's: the desktop's key is down

    @property
    def active(self) -> bool:
        return self._thread is not None

    @property
    def running(self) -> bool:
        """Active and still listening (not ended by a refusal or a lost bus)."""
        return (
            self._thread is not None
            and self._thread.is_alive()
            and not self._ended.is_set()
        )

    def unavailable(self) -> str | None:
        if session_bus_address(self.env) is None:
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
        self._thread.join(timeout=CALL_TIMEOUT_S + 1)
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
        try:
            connection = open_dbus_connection(
                session_bus_address(self.env) or "SESSION", auth_timeout=2.0
            )
        except (OSError, TimeoutError, KeyError, ValueError) as exc:
            raise PortalClosed(f"can't reach the D-Bus session bus ({exc})") from exc
        try:
            version = self._call(
                connection,
                DBusAddress(
                    PORTAL_PATH, PORTAL_NAME, "org.freedesktop.DBus.Properties"
                ),
                "Get",
                "ss",
                (SHORTCUTS, "version"),
            )[0][1]
        except DBusErrorResponse as exc:
            connection.close()
            raise PortalClosed(NO_PORTAL) from exc
        log.info("desktop portal GlobalShortcuts version %s", version)
        with contextlib.suppress(
            DBusErrorResponse
        ):  # portals before 1.19 have no registry
            self._call(
                connection,
                DBusAddress(
                    PORTAL_PATH, PORTAL_NAME, "org.freedesktop.host.portal.Registry"
                ),
                "Register",
                "sa{sv}",
                (APP_ID, {}),
            )
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
                self._call_bus(connection, message_bus.AddMatch(rule))
                stack.enter_context(connection.filter(rule, queue=queue))
            try:
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        connection.recv_messages(timeout=POLL_S)  # matches go to queue
                    while queue:
                        self._handle(queue.popleft(), session)
            finally:
                if not self._closed(connection):
                    with contextlib.suppress(
                        Exception
                    ):  # best effort: the bus may be gone
                        self._call(
                            connection,
                            DBusAddress(
                                session, PORTAL_NAME, "org.freedesktop.portal.Session"
                            ),
                            "Close",
                        )

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
        """One portal call: the answer comes as a Response signal on the request object."""
        token = "ptt_" + secrets.token_hex(6)
        sender = connection.unique_name.lstrip(":").replace(".", "_")
        expected = f"{PORTAL_PATH}/request/{sender}/{token}"
        rule = MatchRule(
            type="signal",
            interface="org.freedesktop.portal.Request",
            member="Response",
        )
        queue: deque[Message] = deque()
        self._call_bus(connection, message_bus.AddMatch(rule))
        try:
            with connection.filter(rule, queue=queue):
                handle = self._call(
                    connection,
                    DBusAddress(PORTAL_PATH, PORTAL_NAME, SHORTCUTS),
                    method,
                    signature,
                    (*args, {**options, "handle_token": ("s", token)}),
                )[0]
                paths = {expected, handle}
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        connection.recv_messages(timeout=POLL_S)  # matches go to queue
                    while queue:
                        answer = queue.popleft()
                        if answer.header.fields.get(HeaderFields.path) not in paths:
                            continue
                        code, results = answer.body
                        if code == 0:
                            return results
                        self.refused = code == 1
                        raise PortalClosed(
                            "the shortcut was cancelled in the desktop's dialog"
                            if code == 1
                            else f"the desktop refused the shortcut ({method})"
                        )
                raise PortalClosed("stopped")
        except DBusErrorResponse as exc:
            raise PortalClosed(f"the desktop portal failed: {exc}") from exc
        finally:
            with contextlib.suppress(Exception):
                self._call_bus(connection, message_bus.RemoveMatch(rule))

    @staticmethod
    def _call(
        connection: DBusConnection,
        address: DBusAddress,
        method: str,
        signature: str | None = None,
        body: tuple = (),
    ) -> tuple:
        message = new_method_call(address, method, signature, body)
        return unwrap_msg(
            connection.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
        )

    @staticmethod
    def _call_bus(connection: DBusConnection, message: Message) -> None:
        reply = connection.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
        if reply.header.message_type is MessageType.error:
            unwrap_msg(reply)

    @staticmethod
    def _closed(connection: DBusConnection) -> bool:
        return connection.sock.fileno() < 0
