"""The tray, as a user on a desktop with one meets it: the real window (``scripts/run`` on
Xvfb, Qt's xcb platform) with a StatusNotifier tray host on the session bus (the fake one in
``testkit.fake_tray_host``; Qt's own StatusNotifierItem answers). A click on the icon hides
the window and another brings it back; while it is hidden the system-wide key still
records and answers, and the icon's tooltip says idle, listening, answering."""

from __future__ import annotations

import json
import os
import subprocess
import time

from testkit.servers import dbus_session
from tests.desktop.test_real_window import (  # noqa: F401 - fixtures
    ANSWER_TIMEOUT_S,
    TITLE,
    App,
    play,
    pulse_env,
    spoken_clip,
    x11_desktop,
    x_server,
)

ITEM = "org.kde.StatusNotifierItem"


def tooltip(bus, service: str) -> str:
    _sig, (_icon, _pixmaps, title, _text) = bus.send(
        service,
        "/StatusNotifierItem",
        "org.freedesktop.DBus.Properties",
        "Get",
        "ss",
        (ITEM, "ToolTip"),
    )
    return title


def visible(app: App) -> bool:
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", f"^{TITLE}$"],
        env={**os.environ, "DISPLAY": app.x_server.name},
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(found.stdout.split())


def wait(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_the_tray_hides_and_restores_the_window_while_the_key_still_records(
    x_server,  # noqa: F811
    pulse_env,  # noqa: F811
    spoken_clip,  # noqa: F811
    tmp_path,
):
    clip, _ = spoken_clip
    settings = "[ui]\npush_to_talk_key=F9\nsystem_wide_key=true\n"
    with dbus_session(tray=True) as bus:
        env = {**x11_desktop(pulse_env, x_server, tmp_path, settings), **bus.env}
        app = App(x_server, env, tmp_path / "app.log")
        try:
            app.start_ready()
            app.wait_for(r"tray icon shown", 10)
            assert wait(lambda: json.loads(tray_items(bus)))
            (service,) = json.loads(tray_items(bus))
            assert wait(lambda: tooltip(bus, service).endswith("idle"))

            bus.send(service, "/StatusNotifierItem", ITEM, "Activate", "ii", (0, 0))
            app.wait_for(r"window hidden to the tray", 10)
            assert wait(lambda: not visible(app))

            x_server.xdotool("keydown", "F9")  # the system-wide key, window hidden
            app.wait_for(r"recording started", 10)
            assert wait(lambda: tooltip(bus, service).endswith("listening…"))
            play(pulse_env, clip).wait(30)
            time.sleep(0.3)
            x_server.xdotool("keyup", "F9")
            app.wait_for(r"chunk_id=1 start", 20)
            app.wait_for(r"chunk_id=1 end: ", ANSWER_TIMEOUT_S)
            assert wait(lambda: tooltip(bus, service).endswith("idle"))

            bus.send(service, "/StatusNotifierItem", ITEM, "Activate", "ii", (0, 0))
            app.wait_for(r"window shown from the tray", 10)
            assert wait(lambda: visible(app))
            x_server.xdotool("key", "ctrl+q")
            assert app.wait_exit() == 0
        finally:
            app.kill()


def tray_items(bus) -> str:
    return bus.send(
        "org.kde.StatusNotifierWatcher",
        "/StatusNotifierWatcher",
        "org.pttassistant.FakeTray",
        "Items",
    )


def test_closing_hides_to_the_tray_only_when_one_keeps_the_app(make_app, qtbot):
    controller = make_app()
    window = controller.window
    assert not controller.tray.available  # Qt's offscreen platform has no tray
    closed = []
    window.closed.connect(lambda: closed.append(1))
    window.close_to_tray = True  # as Tray.start sets it where there is a tray
    window.close()
    assert not window.isVisible() and closed == []  # hidden, still running
    window.show()
    window.quit_app()  # the tray's Quit, Ctrl+Q, a signal: closed for good
    assert closed == [1]
