"""A desktop's tray on a private D-Bus session bus, for tests: the StatusNotifierWatcher
that KDE, GNOME's AppIndicator extension, waybar or xfce4-panel run, so that Qt shows a
QSystemTrayIcon as a StatusNotifierItem there. It records the items that register, and
takes a test's orders on ``org.pttassistant.FakeTray``: Items.

    python -m testkit.fake_tray_host BUS_ADDRESS
"""

from __future__ import annotations

import argparse
import json

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

WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"


def serve(address: str) -> None:
    connection = open_dbus_connection(address)
    reply = connection.send_and_get_reply(message_bus.RequestName(WATCHER), timeout=5)
    assert reply.body[0] == 1, reply.body
    items: list[str] = []
    print("fake tray ready", flush=True)
    while True:
        message = connection.receive()
        if message.header.message_type is not MessageType.method_call:
            continue
        fields = message.header.fields
        interface, member = (
            fields.get(HeaderFields.interface),
            fields[HeaderFields.member],
        )
        if interface == WATCHER and member == "RegisterStatusNotifierItem":
            (service,) = message.body
            if service.startswith("/"):  # a path: the item is the sender's
                service = fields[HeaderFields.sender]
            items.append(service)
            connection.send(new_method_return(message))
            watcher = DBusAddress(WATCHER_PATH, interface=WATCHER)
            connection.send(
                new_signal(watcher, "StatusNotifierItemRegistered", "s", (service,))
            )
        elif interface == WATCHER and member == "RegisterStatusNotifierHost":
            connection.send(new_method_return(message))
        elif interface == "org.freedesktop.DBus.Properties" and member == "Get":
            values = {
                "RegisteredStatusNotifierItems": ("as", items),
                "IsStatusNotifierHostRegistered": ("b", True),
                "ProtocolVersion": ("i", 0),
            }
            name = message.body[1]
            if name in values:
                connection.send(new_method_return(message, "v", (values[name],)))
            else:
                connection.send(
                    new_error(message, "org.freedesktop.DBus.Error.UnknownProperty")
                )
        elif interface == "org.pttassistant.FakeTray" and member == "Items":
            connection.send(new_method_return(message, "s", (json.dumps(items),)))
        else:
            connection.send(
                new_error(message, "org.freedesktop.DBus.Error.UnknownMethod")
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    serve(parser.parse_args().address)


if __name__ == "__main__":
    main()
