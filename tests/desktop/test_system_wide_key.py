"""The optional system-wide push-to-talk key, against a real X server (Xvfb) and real key
events injected through XTest (xdotool), which X treats as a keyboard's own: passive grabs
fire and held keys auto-repeat."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from Xlib import XK, X, display

from desktop_app.keys.global_hotkey import (
    GlobalHotkey,
    HotkeyUnavailable,
    keysym_for,
    unavailable_reason,
)
from desktop_app.widgets.chat_view import AnswerBubble, NoteLabel, UserBubble
from desktop_app.widgets.key_dialog import KeyDialog
from testkit.servers import XServer, xvfb
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import speech_like, thread_names
from tests.desktop.test_window import bubbles


@pytest.fixture
def x_server(monkeypatch):
    """A private Xvfb; DISPLAY points at it, as on an X11 desktop."""
    with xvfb() as server:
        monkeypatch.setenv("DISPLAY", server.name)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
        yield server


def grab_elsewhere(server: XServer, key: str) -> display.Display:
    """Another application taking ``key`` system-wide; returns its connection."""
    other = display.Display(server.name)
    keycode = other.keysym_to_keycode(XK.string_to_keysym(key))
    other.screen().root.grab_key(keycode, 0, True, X.GrabModeAsync, X.GrabModeAsync)
    other.sync()
    return other


def is_free(server: XServer, key: str) -> bool:
    """Whether another application could take ``key`` now (nobody holds it)."""
    from Xlib import error

    other = display.Display(server.name)
    try:
        keycode = other.keysym_to_keycode(XK.string_to_keysym(key))
        taken = error.CatchError(error.BadAccess)
        other.screen().root.grab_key(
            keycode, 0, True, X.GrabModeAsync, X.GrabModeAsync, onerror=taken
        )
        other.sync()
        return taken.get_error() is None
    finally:
        other.close()


def notes(controller) -> list[str]:
    return [note.text() for note in bubbles(controller, NoteLabel)]


def test_off_by_default_and_the_window_key_still_works(x_server, make_app):
    controller = make_app()
    assert not controller.hotkey.active
    assert "ptt-hotkey" not in thread_names()
    assert "anywhere" not in controller.window.hint.text()
    assert is_free(x_server, "F9")
    space = QKeyEvent(
        QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(controller.window, space)
    assert controller.recorder.is_recording


def test_held_system_wide_key_is_one_recording_and_one_answer(
    x_server, make_app, qtbot, sound, settings
):
    settings.setValue("ui/push_to_talk_key", "F9")
    settings.setValue("ui/system_wide_key", True)
    controller = make_app()  # the saved choice is applied at start-up
    assert controller.hotkey.active, notes(controller)
    assert "F9" in controller.window.hint.text()
    assert "anywhere" in controller.window.hint.text()
    presses = []
    controller.ptt.pressed.connect(lambda: presses.append(1))

    x_server.xdotool("keydown", "F9")
    qtbot.waitUntil(lambda: controller.recorder.is_recording, timeout=5000)
    clip = speech_like(seconds=1.2)
    for piece in np.array_split(clip, 6):  # ~1.2 s held: X auto-repeats after 660 ms
        sound.stream.feed(piece)
        qtbot.wait(200)
    # Focus moving to another window must not end a system-wide hold.
    QApplication.sendEvent(
        QApplication.instance(), QEvent(QEvent.Type.ApplicationDeactivate)
    )
    assert controller.recorder.is_recording
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        x_server.xdotool("keyup", "F9")

    assert controller.hotkey.repeats_swallowed > 0  # X did auto-repeat the held key
    assert presses == [1]  # ... and the hold stayed one recording
    (user,) = bubbles(controller, UserBubble)
    assert user.clip_label.text() == "Your clip · 1.2 s"
    (answer,) = bubbles(controller, AnswerBubble)
    assert answer.text == TINY_SENTENCE


def test_turning_it_off_gives_the_key_back_and_leaves_no_thread(
    x_server, make_app, qtbot, settings
):
    controller = make_app()
    controller.apply_key_choice("F9", True)
    assert controller.hotkey.active and "ptt-hotkey" in thread_names()
    assert not is_free(x_server, "F9")
    assert settings.value("ui/system_wide_key", type=bool)

    controller.apply_key_choice("F10", True)  # the grab follows the key
    assert is_free(x_server, "F9") and not is_free(x_server, "F10")
    x_server.xdotool("keydown", "F10")
    qtbot.waitUntil(lambda: controller.recorder.is_recording, timeout=5000)
    x_server.xdotool("keyup", "F10")
    qtbot.waitUntil(lambda: not controller.recorder.is_recording, timeout=5000)

    x_server.xdotool("keydown", "F10")  # turned off mid-hold: the recording ends too
    qtbot.waitUntil(lambda: controller.recorder.is_recording, timeout=5000)
    controller.apply_key_choice("F10", False)
    qtbot.waitUntil(lambda: not controller.recorder.is_recording, timeout=5000)
    x_server.xdotool("keyup", "F10")
    assert not controller.hotkey.active and "ptt-hotkey" not in thread_names()
    assert is_free(x_server, "F10")
    assert not settings.value("ui/system_wide_key", type=bool)
    assert "anywhere" not in controller.window.hint.text()


def test_a_key_another_application_holds_is_a_clear_note(x_server, make_app, settings):
    other = grab_elsewhere(x_server, "F9")
    try:
        controller = make_app()
        controller.apply_key_choice("F9", True)
    finally:
        other.close()
    assert not controller.hotkey.active
    assert "already taken system-wide by another application" in notes(controller)[-1]
    assert controller.ptt.key_name == "F9"  # kept: it works once the other lets go
    assert not settings.value("ui/system_wide_key", type=bool)


def test_changing_to_a_taken_key_keeps_the_old_one(x_server, make_app):
    controller = make_app()
    controller.apply_key_choice("F9", True)
    other = grab_elsewhere(x_server, "F10")
    try:
        assert not controller.set_push_to_talk_key("F10")
    finally:
        other.close()
    assert "The key stays F9" in notes(controller)[-1]
    assert controller.ptt.key_name == "F9" and controller.hotkey.key_name == "F9"
    assert controller.hotkey.active and not is_free(x_server, "F9")


def test_keys_that_type_are_refused_with_what_is_accepted(x_server, make_app):
    controller = make_app()  # the default key is Space
    assert not controller.set_system_wide(True)
    assert "types text" in notes(controller)[-1] and "F9" in notes(controller)[-1]
    assert not controller.hotkey.active
    with pytest.raises(HotkeyUnavailable, match="types text"):
        keysym_for("A")
    for key in ("Launch Mail", "CapsLock", "Esc", "Left", "Del"):
        with pytest.raises(HotkeyUnavailable, match="can't be used system-wide"):
            keysym_for(key)
    assert keysym_for("ScrollLock") == XK.string_to_keysym("Scroll_Lock")
    assert keysym_for("Media Play") == XK.string_to_keysym("XF86_AudioPlay")


def test_the_x_server_going_away_turns_it_off_with_a_note(x_server, make_app, qtbot):
    controller = make_app()
    controller.apply_key_choice("F9", True)
    x_server.xdotool("keydown", "F9")
    qtbot.waitUntil(lambda: controller.recorder.is_recording, timeout=5000)
    x_server.process.kill()
    qtbot.waitUntil(lambda: not controller.hotkey.active, timeout=10000)
    assert "the X display closed" in notes(controller)[-1]
    assert not controller.ptt.held  # the hold ended with the grab
    qtbot.waitUntil(lambda: "ptt-hotkey" not in thread_names(), timeout=5000)


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({"DISPLAY": ":0"}, "linux", None),
        ({}, "linux", "no X11 display"),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", "Wayland"),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "linux", "Wayland"),
        ({}, "darwin", "X11 desktops only, not on darwin"),
        ({}, "win32", "X11 desktops only, not on win32"),
    ],
)
def test_where_it_is_unavailable_the_reason_is_said(env, platform, expected):
    reason = unavailable_reason(env, platform)
    assert reason is None if expected is None else expected in reason


def test_without_x11_the_app_says_why_and_the_dialog_offers_nothing(
    make_app, monkeypatch, qtbot, settings
):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    settings.setValue("ui/push_to_talk_key", "F9")
    settings.setValue("ui/system_wide_key", True)  # chosen in an X11 session
    controller = make_app()
    assert not controller.hotkey.active
    assert "no X11 display" in notes(controller)[-1]
    # The choice is kept for the next X11 start, and the user can still clear it.
    assert settings.value("ui/system_wide_key", type=bool)
    controller.apply_key_choice("F9", False)
    assert not settings.value("ui/system_wide_key", type=bool)
    # Asked for now: it says why, and stays off.
    assert not controller.set_system_wide(True)
    assert "no X11 display" in notes(controller)[-1]
    assert not settings.value("ui/system_wide_key", type=bool)
    dialog = KeyDialog("F9", False, unavailable_reason())
    qtbot.addWidget(dialog)
    assert not dialog.system_wide_box.isEnabled()
    assert "no X11 display" in dialog.system_wide_hint.text()


def test_a_hotkey_can_be_started_and_stopped_on_its_own(qtbot, x_server):
    hotkey = GlobalHotkey(x_server.name)
    hotkey.start("Pause")
    try:
        with qtbot.waitSignal(hotkey.pressed, timeout=5000):
            x_server.xdotool("keydown", "Pause")
        with qtbot.waitSignal(hotkey.released, timeout=5000):
            x_server.xdotool("keyup", "Pause")
    finally:
        hotkey.stop()
    assert not hotkey.active and is_free(x_server, "Pause")


def test_the_key_dialog_takes_a_key_then_return_confirms_it(qtbot):
    dialog = KeyDialog("Space")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitActive(dialog)
    dialog.editor.setFocus()
    qtbot.keyClick(dialog.editor, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: dialog.key_name == "F9", timeout=2000)
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    qtbot.waitUntil(ok.hasFocus, timeout=3000)  # the key is taken: Return goes to OK
    qtbot.keyClick(ok, Qt.Key.Key_Return)
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.key_name == "F9"  # not Return
