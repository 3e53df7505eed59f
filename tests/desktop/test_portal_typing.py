"""Dictation's typing on GNOME and KDE through the RemoteDesktop portal, against a fake
portal on a private D-Bus bus (the boundary where the desktop would inject the keys): the
keysyms sent for every character, Backspace and the paste keys; one dialog a session and a
restore token for the next; a user who says no, and a desktop without the portal."""

from __future__ import annotations

import json
import os

import pytest

from core.config import DictationSettings
from desktop_app.dictation.dictation import Dictation
from desktop_app.dictation.portal_typist import KEYSYMS, PortalTypist, keysym_of
from desktop_app.dictation.typist import TypingFailed
from desktop_app.dictation.typists import find_typists
from testkit.servers import dbus_session
from tests.desktop.test_dictation_typing import done

TEXT = "Hello, wörld € 2+2=4"


def typed(keys: list[list[int]]) -> str:
    """The text the desktop would see: each keysym pressed and released."""
    by_sym = {keysym_of(c): c for c in TEXT}
    presses = [sym for sym, state in keys if state == 1]
    assert [state for _, state in keys] == [1, 0] * len(presses)
    return "".join(by_sym[sym] for sym in presses)


@pytest.fixture
def bus(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with dbus_session() as session:
        yield session


def env(bus) -> dict[str, str]:
    """The app's environment, the private bus's address in it."""
    return {**os.environ, **bus.env}


def keys(bus) -> list[list[int]]:
    return json.loads(bus.call("Keys"))


def test_text_backspace_and_paste_keys_reach_the_desktop(bus, tmp_path):
    typist = PortalTypist(env(bus))
    try:
        typist.type(TEXT)
        assert typed(keys(bus)) == TEXT  # every character, non-ASCII ones too
        before = len(keys(bus))
        typist.erase(3)
        assert keys(bus)[before:] == [[KEYSYMS["backspace"], s] for s in (1, 0)] * 3
        before = len(keys(bus))
        typist.press("ctrl+shift+v")
        ctrl, shift, v = KEYSYMS["ctrl"], KEYSYMS["shift"], ord("v")
        assert keys(bus)[before:] == [
            [ctrl, 1], [shift, 1], [v, 1], [v, 0], [shift, 0], [ctrl, 0]
        ]  # fmt: skip
        calls = json.loads(bus.call("Calls"))["calls"]
        assert [c[1] for c in calls].count("Start") == 1  # one dialog for all of it
    finally:
        typist.close()
    assert json.loads(bus.call("Calls"))["open_sessions"] == []
    token = tmp_path / "state" / "ptt-assistant" / "remote-desktop-token"
    assert token.read_text() == "restore-1"
    again = PortalTypist(env(bus))  # the next start asks with the desktop's token
    try:
        again.type("x")
        selected = [
            c for c in json.loads(bus.call("Calls"))["calls"] if c[1] == "SelectDevices"
        ]
        assert selected[-1][3]["restore_token"] == "restore-1"
        assert selected[-1][3]["types"] == 1 and selected[-1][3]["persist_mode"] == 2
    finally:
        again.close()


def test_dictation_types_through_the_portal(bus, qtbot):
    typist = PortalTypist(env(bus))
    dictation = Dictation(DictationSettings(), ([typist], "typing with the portal"))
    said = done(qtbot, dictation.deliver("  hello   there "))
    assert said == "Typed with the RemoteDesktop portal."
    sent = keys(bus)
    assert "".join(chr(sym) for sym, state in sent if state == 1) == "hello there "
    typist.close()


def test_a_user_who_says_no_is_told(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    with dbus_session("--cancel-typing") as bus:
        typist = PortalTypist(env(bus))
        with pytest.raises(TypingFailed, match="cancelled in the desktop's dialog"):
            typist.type("hello")
        assert json.loads(bus.call("Keys")) == []


def test_a_desktop_without_the_portal_says_what_to_install():
    with (
        dbus_session("--no-remote-desktop") as bus,
        pytest.raises(TypingFailed, match="no RemoteDesktop: install wtype"),
    ):
        PortalTypist(env(bus)).type("hello")


def test_on_wayland_the_portal_comes_between_wtype_and_ydotool(bus):
    env = {"WAYLAND_DISPLAY": "wayland-1", **bus.env}
    found, said = find_typists(env, which=lambda tool: f"/usr/bin/{tool}")
    assert [t.name for t in found] == ["wtype", "the RemoteDesktop portal", "ydotool"]
    assert said == "typing with wtype, else the RemoteDesktop portal, else ydotool"
    found, _ = find_typists({"WAYLAND_DISPLAY": "wayland-1"}, which=lambda tool: None)
    assert found == []  # no session bus: no portal
