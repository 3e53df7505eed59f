"""Calls to the desktop's XDG portals over D-Bus (jeepney, blocking: each caller runs them on
a thread of its own). A portal call answers later, by a ``Request.Response`` signal on a
request object; ``request`` waits for it, the user's dialog included.

Used by the system-wide key on Wayland (GlobalShortcuts) and by dictation's typing on GNOME
and KDE (RemoteDesktop).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
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

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
# Host (unsandboxed) apps name themselves to portals 1.19+, which key permissions by app id.
APP_ID = "io.github.pttassistant.PttAssistant"
CALL_TIMEOUT_S = 10.0
# How often a wait looks up from the bus to see whether it was asked to stop.
POLL_S = 0.2


class PortalClosed(Exception):
    """The portal is missing or refused, the user cancelled, or the bus went away; the
    message says which. ``cancelled``: the user said no in the desktop's dialog."""

    def __init__(self, message: str, cancelled: bool = False) -> None:
        super().__init__(message)
        self.cancelled = cancelled


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


def connect(
    interface: str, missing: str, env: Mapping[str, str] | None = None
) -> tuple[DBusConnection, int]:
    """A connection to the session bus on which the portal offers ``interface``, and its
    version; ``missing`` is the message when it does not."""
    try:
        connection = open_dbus_connection(
            session_bus_address(env) or "SESSION", auth_timeout=2.0
        )
    except (OSError, TimeoutError, KeyError, ValueError) as exc:
        raise PortalClosed(f"can't reach the D-Bus session bus ({exc})") from exc
    try:
        version = call(
            connection,
            DBusAddress(PORTAL_PATH, PORTAL_NAME, "org.freedesktop.DBus.Properties"),
            "Get",
            "ss",
            (interface, "version"),
        )[0][1]
    except (DBusErrorResponse, TimeoutError) as exc:
        connection.close()
        raise PortalClosed(missing) from exc
    with contextlib.suppress(
        DBusErrorResponse, TimeoutError
    ):  # before 1.19: no registry
        call(
            connection,
            DBusAddress(
                PORTAL_PATH, PORTAL_NAME, "org.freedesktop.host.portal.Registry"
            ),
            "Register",
            "sa{sv}",
            (APP_ID, {}),
        )
    return connection, version


def call(
    connection: DBusConnection,
    address: DBusAddress,
    method: str,
    signature: str | None = None,
    body: tuple = (),
) -> tuple:
    """A plain method call; its reply's values (a D-Bus error raises DBusErrorResponse)."""
    message = new_method_call(address, method, signature, body)
    return unwrap_msg(connection.send_and_get_reply(message, timeout=CALL_TIMEOUT_S))


def call_bus(connection: DBusConnection, message: Message) -> None:
    reply = connection.send_and_get_reply(message, timeout=CALL_TIMEOUT_S)
    if reply.header.message_type is MessageType.error:
        unwrap_msg(reply)


def request(
    connection: DBusConnection,
    interface: str,
    method: str,
    signature: str,
    args: tuple,
    options: dict[str, tuple[str, Any]],
    what: str,
    stop: threading.Event | None = None,
    timeout: float | None = None,
) -> dict[str, tuple[str, Any]]:
    """One portal call and its Response: the results, or PortalClosed saying that ``what``
    (e.g. "the shortcut") was cancelled or refused. Waits until ``stop`` is set or
    ``timeout`` seconds pass (None: as long as the user's dialog takes)."""
    token = "ptt_" + secrets.token_hex(6)
    sender = connection.unique_name.lstrip(":").replace(".", "_")
    expected = f"{PORTAL_PATH}/request/{sender}/{token}"
    rule = MatchRule(
        type="signal", interface="org.freedesktop.portal.Request", member="Response"
    )
    queue: deque[Message] = deque()
    deadline = None if timeout is None else time.monotonic() + timeout
    call_bus(connection, message_bus.AddMatch(rule))
    try:
        with connection.filter(rule, queue=queue):
            handle = call(
                connection,
                DBusAddress(PORTAL_PATH, PORTAL_NAME, interface),
                method,
                signature,
                (*args, {**options, "handle_token": ("s", token)}),
            )[0]
            paths = {expected, handle}
            while not (stop is not None and stop.is_set()):
                if deadline is not None and time.monotonic() > deadline:
                    raise PortalClosed(f"the desktop did not answer for {what}")
                with contextlib.suppress(TimeoutError):
                    connection.recv_messages(timeout=POLL_S)  # matches go to queue
                while queue:
                    answer = queue.popleft()
                    if answer.header.fields.get(HeaderFields.path) not in paths:
                        continue
                    code, results = answer.body
                    if code == 0:
                        return results
                    if code == 1:
                        raise PortalClosed(
                            f"{what} was cancelled in the desktop's dialog",
                            cancelled=True,
                        )
                    raise PortalClosed(f"the desktop refused {what} ({method})")
            raise PortalClosed("stopped")
    except DBusErrorResponse as exc:
        raise PortalClosed(f"the desktop portal failed: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            call_bus(connection, message_bus.RemoveMatch(rule))


def closed(connection: DBusConnection) -> bool:
    return connection.sock.fileno() < 0
