"""A desktop's portals on a private D-Bus session bus, for tests: the boundary where GNOME,
KDE or Hyprland would answer. It speaks the documented interfaces:
``org.freedesktop.portal.GlobalShortcuts`` version 1 (CreateSession and BindShortcuts answered
by ``Request.Response``, ``Activated`` / ``Deactivated`` on press and release) and
``org.freedesktop.portal.RemoteDesktop`` version 2 (CreateSession, SelectDevices, Start, then
``NotifyKeyboardKeysym``), and ``Session.Close``; and takes a test's orders on
``org.pttassistant.FakePortal``: Press, Release, Rebind, Calls, Keys.

    python -m testkit.fake_portal BUS_ADDRESS [--no-shortcuts] [--cancel] [--bind-as F10]
        [--no-remote-desktop] [--cancel-typing]
"""

from __future__ import annotations

import argparse
import json
import time

from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageType,
    new_error,
    new_method_return,
    new_signal,
)
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

PORTAL_NAME = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REMOTE_DESKTOP = "org.freedesktop.portal.RemoteDesktop"
CONTROL = "org.pttassistant.FakePortal"


class FakePortal:
    def __init__(self, address: str, args: argparse.Namespace) -> None:
        self.connection = open_dbus_connection(address)
        self.shortcuts, self.cancel = not args.no_shortcuts, args.cancel
        self.bind_as = args.bind_as
        self.remote_desktop = not args.no_remote_desktop
        self.cancel_typing = args.cancel_typing
        self.keys: list[
            list[int]
        ] = []  # (keysym, pressed) as NotifyKeyboardKeysym sent
        self.started: set[str] = set()  # RemoteDesktop sessions the user allowed
        self.calls: list[list] = []
        self.sessions: dict[str, str] = {}  # session path -> the client's bus name
        self.bound: dict[str, list[str]] = {}  # session path -> shortcut ids

    def serve(self) -> None:
        reply = self.connection.send_and_get_reply(
            message_bus.RequestName(PORTAL_NAME), timeout=5
        )
        assert reply.body[0] == 1, reply.body  # the primary owner
        print("fake portal ready", flush=True)
        while True:
            message = self.connection.receive()
            if message.header.message_type is MessageType.method_call:
                self.answer(message)

    def answer(self, message) -> None:
        fields = message.header.fields
        interface, member = (
            fields.get(HeaderFields.interface),
            fields[HeaderFields.member],
        )
        path, sender = fields[HeaderFields.path], fields[HeaderFields.sender]
        self.calls.append([interface, member, path])
        if interface == "org.freedesktop.DBus.Properties" and member == "Get":
            if message.body[0] == SHORTCUTS and self.shortcuts:
                return self.reply(message, "v", (("u", 1),))
            if message.body[0] == REMOTE_DESKTOP and self.remote_desktop:
                return self.reply(message, "v", (("u", 2),))
            return self.error(message, "org.freedesktop.DBus.Error.UnknownInterface")
        if interface == REMOTE_DESKTOP and self.remote_desktop:
            return self.remote(message, member, sender)
        if interface == SHORTCUTS and self.shortcuts:
            if member == "CreateSession":
                return self.create_session(message, sender)
            if member == "BindShortcuts":
                return self.bind_shortcuts(message)
        if interface == "org.freedesktop.portal.Session" and member == "Close":
            self.sessions.pop(path, None)
            self.started.discard(path)
            return self.reply(message, "", ())
        if interface == CONTROL:
            return self.control(message, member)
        self.error(message, "org.freedesktop.DBus.Error.UnknownMethod")

    def create_session(self, message, sender: str) -> None:
        options = message.body[0]
        name = sender.lstrip(":").replace(".", "_")
        session = f"{PORTAL_PATH}/session/{name}/{options['session_handle_token'][1]}"
        self.sessions[session] = sender
        request = self.request_path(sender, options)
        self.reply(message, "o", (request,))
        self.respond(request, 0, {"session_handle": ("s", session)})

    def bind_shortcuts(self, message) -> None:
        session, shortcuts, _parent, options = message.body
        request = self.request_path(message.header.fields[HeaderFields.sender], options)
        self.reply(message, "o", (request,))
        if self.cancel or session not in self.sessions:
            return self.respond(request, 1 if self.cancel else 2, {})
        self.bound[session] = [shortcut_id for shortcut_id, _ in shortcuts]
        described = [
            (
                shortcut_id,
                {
                    "description": properties["description"],
                    "trigger_description": (
                        "s",
                        self.bind_as or properties["preferred_trigger"][1],
                    ),
                },
            )
            for shortcut_id, properties in shortcuts
        ]
        self.respond(request, 0, {"shortcuts": ("a(sa{sv})", described)})

    def remote(self, message, member: str, sender: str) -> None:
        if member == "CreateSession":
            return self.create_session(message, sender)
        if member == "NotifyKeyboardKeysym":
            session, _options, keysym, state = message.body
            if session not in self.started:
                return self.error(message, "org.freedesktop.DBus.Error.AccessDenied")
            self.keys.append([keysym, state])
            return self.reply(message, "", ())
        options = message.body[-1]
        request = self.request_path(sender, options)
        self.reply(message, "o", (request,))
        session = message.body[0]
        if member == "SelectDevices":
            self.calls[-1].append({k: v[1] for k, v in options.items()})
            return self.respond(request, 0, {})
        if member == "Start":
            if self.cancel_typing:
                return self.respond(request, 1, {})
            self.started.add(session)
            results = {"devices": ("u", 1), "restore_token": ("s", "restore-1")}
            return self.respond(request, 0, results)
        return None

    def control(self, message, member: str) -> None:
        if member in ("Press", "Release"):
            signal = "Activated" if member == "Press" else "Deactivated"
            for session, ids in self.bound.items():
                if session in self.sessions:
                    for shortcut_id in ids:
                        self.emit(
                            signal,
                            "osta{sv}",
                            (session, shortcut_id, int(time.time() * 1000), {}),
                        )
            return self.reply(message, "", ())
        if member == "Rebind":  # the user picked another key in the desktop's settings
            (trigger,) = message.body
            for session, ids in self.bound.items():
                described = [
                    (
                        i,
                        {
                            "description": ("s", ""),
                            "trigger_description": ("s", trigger),
                        },
                    )
                    for i in ids
                ]
                self.emit("ShortcutsChanged", "oa(sa{sv})", (session, described))
            return self.reply(message, "", ())
        if member == "Keys":
            return self.reply(message, "s", (json.dumps(self.keys),))
        if member == "Calls":
            state = {"calls": self.calls, "open_sessions": sorted(self.sessions)}
            return self.reply(message, "s", (json.dumps(state),))
        self.error(message, "org.freedesktop.DBus.Error.UnknownMethod")

    @staticmethod
    def request_path(sender: str, options: dict) -> str:
        name = sender.lstrip(":").replace(".", "_")
        return f"{PORTAL_PATH}/request/{name}/{options['handle_token'][1]}"

    def respond(self, request: str, code: int, results: dict) -> None:
        signal = new_signal(
            DBusAddress(request, interface="org.freedesktop.portal.Request"),
            "Response",
            "ua{sv}",
            (code, results),
        )
        self.connection.send(signal)

    def emit(self, member: str, signature: str, body: tuple) -> None:
        address = DBusAddress(PORTAL_PATH, interface=SHORTCUTS)
        self.connection.send(new_signal(address, member, signature, body))

    def reply(self, message, signature: str, body: tuple) -> None:
        self.connection.send(new_method_return(message, signature or None, body))

    def error(self, message, name: str) -> None:
        self.connection.send(new_error(message, name, "s", ("not here",)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("--no-shortcuts", action="store_true")
    parser.add_argument("--cancel", action="store_true")
    parser.add_argument("--bind-as", default="")
    parser.add_argument("--no-remote-desktop", action="store_true")
    parser.add_argument("--cancel-typing", action="store_true")
    args = parser.parse_args()
    FakePortal(args.address, args).serve()


if __name__ == "__main__":
    main()
