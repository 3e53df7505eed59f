"""The system-wide key on Wayland through the desktop's GlobalShortcuts portal, against a
fake portal on a private D-Bus session bus (the boundary where GNOME, KDE or Hyprland would
answer): the key is bound, a hold is one recording, the desktop's own choice of key, a user
who says no, a desktop without the portal, and a portal that stops mid-hold."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desktop_app.keys.portal_shortcut import PortalShortcut
from desktop_app.widgets.chat_view import AnswerBubble, UserBubble
from testkit.servers import dbus_session
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import speech_like, thread_names
from tests.desktop.test_system_wide_key import notes
from tests.desktop.test_window import bubbles


@pytest.fixture
def wayland_session(monkeypatch):
    """A Wayland session's environment, with no X display: only the portal can help."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-test")


def start_portal(monkeypatch, *args):
    bus = dbus_session(*args)
    session = bus.__enter__()
    monkeypatch.setenv(
        "DBUS_SESSION_BUS_ADDRESS", session.env["DBUS_SESSION_BUS_ADDRESS"]
    )
    return bus, session


@pytest.fixture
def portal(monkeypatch, wayland_session):
    bus, session = start_portal(monkeypatch)
    yield session
    bus.__exit__(None, None, None)


def open_sessions(portal) -> list[str]:
    return json.loads(portal.call("Calls"))["open_sessions"]


def test_the_portal_binds_the_key_and_reports_press_and_release(portal, qtbot):
    shortcut = PortalShortcut()
    with qtbot.waitSignal(shortcut.bound, timeout=10000) as bound:
        shortcut.start("ScrollLock")
    assert bound.args == ["Scroll_Lock"]  # the XDG name the desktop was asked for
    assert len(open_sessions(portal)) == 1
    with qtbot.waitSignal(shortcut.pressed, timeout=5000):
        portal.call("Press")
    with qtbot.waitSignal(shortcut.released, timeout=5000):
        portal.call("Release")
    shortcut.stop()
    assert "ptt-portal-key" not in thread_names()
    assert open_sessions(portal) == []  # the session closed: the desktop frees the key


def test_a_held_portal_key_is_one_recording_and_one_answer(
    portal, make_app, qtbot, sound, settings
):
    settings.setValue("ui/push_to_talk_key", "F9")
    settings.setValue("ui/system_wide_key", True)
    controller = make_app()  # the saved choice asks the portal at start-up
    assert isinstance(controller.hotkey, PortalShortcut)
    qtbot.waitUntil(lambda: controller.hotkey.trigger == "F9", timeout=10000)
    assert "anywhere" in controller.window.hint.text()
    portal.call("Press")
    portal.call("Press")  # a desktop that repeats the activation: still one hold
    qtbot.waitUntil(lambda: controller.recorder.is_recording, timeout=5000)
    for piece in np.array_split(speech_like(seconds=1.2), 6):
        sound.stream.feed(piece)
        qtbot.wait(100)
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        portal.call("Release")
    (user,) = bubbles(controller, UserBubble)
    assert user.clip_label.text() == "Your clip · 1.2 s"
    (answer,) = bubbles(controller, AnswerBubble)
    assert answer.text == TINY_SENTENCE


def test_the_key_the_desktop_chose_is_said(
    monkeypatch, wayland_session, make_app, qtbot
):
    bus, session = start_portal(monkeypatch, "--bind-as", "Ctrl+F10")
    try:
        controller = make_app()
        controller.apply_key_choice("F9", True)
        qtbot.waitUntil(
            lambda: "Ctrl+F10" in " ".join(notes(controller)), timeout=10000
        )
        assert "the window's own key stays F9" in notes(controller)[-1]
        session.call("Rebind", "Alt+F8")  # changed later in the desktop's settings
        qtbot.waitUntil(lambda: "Alt+F8" in notes(controller)[-1], timeout=10000)
        assert controller.hotkey.running
    finally:
        bus.__exit__(None, None, None)


def test_a_user_who_says_no_is_not_asked_again(
    monkeypatch, wayland_session, make_app, qtbot, settings
):
    bus, _ = start_portal(monkeypatch, "--cancel")
    try:
        controller = make_app()
        assert controller.set_push_to_talk_key("F9")
        assert controller.set_system_wide(True)  # asked; the answer comes later
        qtbot.waitUntil(lambda: not controller.hotkey.active, timeout=10000)
        assert "cancelled in the desktop's dialog" in notes(controller)[-1]
        assert not settings.value("ui/system_wide_key", type=bool)
        assert "anywhere" not in controller.window.hint.text()
        assert "ptt-portal-key" not in thread_names()
    finally:
        bus.__exit__(None, None, None)


def test_a_desktop_without_the_portal_points_to_the_command(
    monkeypatch, wayland_session, make_app, qtbot
):
    bus, _ = start_portal(monkeypatch, "--no-shortcuts")
    try:
        controller = make_app()
        controller.apply_key_choice("F9", True)
        qtbot.waitUntil(lambda: not controller.hotkey.active, timeout=10000)
        note = notes(controller)[-1]
        assert "offers no GlobalShortcuts" in note and "ptt-assistant --start" in note
    finally:
        bus.__exit__(None, None, None)


def test_no_session_bus_is_said_at_once(monkeypatch, wayland_session, make_app):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/nonexistent")
    controller = make_app()
    assert controller.set_push_to_talk_key("F9")
    assert not controller.set_system_wide(True)
    assert "no D-Bus session bus" in notes(controller)[-1]
    with pytest.raises(Exception, match="types text"):
        controller.hotkey.start("Space")


def test_a_portal_that_stops_mid_hold_ends_the_recording(portal, make_app, qtbot):
    controller = make_app()
    controller.apply_key_choice("F9", True)
    qtbot.waitUntil(lambda: controller.hotkey.trigger == "F9", timeout=10000)
    portal.call("Press")
    qtbot.waitUntil(lambda: controller.recorder.is_recording, timeout=5000)
    portal.portal.kill()
    qtbot.waitUntil(lambda: not controller.hotkey.active, timeout=10000)
    assert "the desktop portal stopped" in notes(controller)[-1]
    assert not controller.ptt.held and not controller.recorder.is_recording
