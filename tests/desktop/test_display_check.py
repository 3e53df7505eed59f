"""Before Qt starts: no display, a dead X server, Wayland without its libraries and a
missing X11 library each give a message saying what to do, never Qt's abort."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from desktop_app import display_check
from desktop_app.display_check import display_problem
from testkit.servers import xvfb


def test_a_reachable_x_server_with_the_libraries_is_fine():
    with xvfb() as server:
        assert display_problem({"DISPLAY": server.name}, "linux") is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "no graphical display: neither DISPLAY"),
        ({"DISPLAY": ":97"}, "cannot connect to the X server at DISPLAY=:97"),
        (
            {"WAYLAND_DISPLAY": "wayland-9", "XDG_RUNTIME_DIR": "/nonexistent"},
            "no Wayland display at /nonexistent/wayland-9",
        ),
        ({"QT_QPA_PLATFORM": "xcb"}, "DISPLAY is not set"),
    ],
)
def test_why_no_window_can_open(env, expected):
    problem = display_problem(env, "linux")
    assert expected in problem
    assert "ptt-ask CLIP.wav" in problem  # the way to use it without a window


def test_other_platforms_and_chosen_plugins_are_left_to_qt():
    assert display_problem({}, "darwin") is None
    assert display_problem({}, "win32") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None


def test_a_missing_system_library_names_its_package(monkeypatch):
    def loader_fails(path):  # what the dynamic loader says on a fresh Debian machine
        raise OSError(
            "libxcb-cursor.so.0: cannot open shared object file: No such file or directory"
        )

    monkeypatch.setattr(ctypes, "CDLL", loader_fails)
    with xvfb() as server:
        problem = display_check.display_problem({"DISPLAY": server.name}, "linux")
    assert (
        "libxcb-cursor.so.0 is missing: sudo apt-get install libxcb-cursor0" in problem
    )
    assert "scripts/setup installs everything" in problem


def test_the_app_itself_says_so_and_exits(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("ptt-assistant: no graphical display"), done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_config_is_shown_in_a_window_too(tmp_path):
    """Started from a desktop menu, nobody reads the terminal: the reason the window
    cannot start comes in a message box on the display, and Return dismisses it."""
    config = tmp_path / "bad.yaml"
    config.write_text("memroy:\n  turns: 2\n")
    with xvfb() as server:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "DISPLAY": server.name,
            "XDG_RUNTIME_DIR": str(tmp_path),
        }
        app = subprocess.Popen(
            [sys.executable, "-m", "desktop_app", "--config", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            found = server.xdotool(
                "search", "--sync", "--name", "ptt-assistant cannot start", timeout=30
            ).split()
            assert found and app.poll() is None  # waiting for the user
            server.xdotool("windowfocus", "--sync", found[0])  # no window manager here
            server.xdotool("key", "Return")  # as typed: through the X server
            _, stderr = app.communicate(timeout=20)
        finally:
            app.kill()
    assert app.returncode == 2
    assert "did you mean 'memory'?" in stderr
