"""The X server's own key state, which tells X's auto-repeat from a real release when Qt
cannot (see desktop_app/keys/x11_key_state.py), against a real Xvfb and XTest keys."""

from __future__ import annotations

import time

from Xlib import XK, display

from desktop_app.keys.x11_key_state import X11KeyState
from testkit.servers import xvfb


def test_key_state_follows_the_keyboard_through_auto_repeat():
    with xvfb() as server:
        connection = display.Display(server.name)
        space = connection.keysym_to_keycode(XK.string_to_keysym("space"))
        connection.close()
        state = X11KeyState(server.name)
        try:
            assert state.is_down(space) is False
            server.run("xset", "r", "rate", "100", "100")
            server.xdotool("keydown", "space")
            # While X auto-repeats (release/press pairs every 10 ms), the key reads down.
            readings = []
            for _ in range(50):
                readings.append(state.is_down(space))
                time.sleep(0.005)
            assert all(readings)
            server.xdotool("keyup", "space")
            assert state.is_down(space) is False
        finally:
            state.close()


def test_without_an_x_server_it_says_unknown_not_up():
    state = X11KeyState(":999")  # nothing listens there
    assert state.is_down(65) is None  # the caller then trusts Qt's own flag
    assert state.is_down(65) is None  # and does not keep trying
