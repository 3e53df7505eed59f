"""Dictation on Wayland, as a Sway, Hyprland or niri user meets it: the real window
(``scripts/run``, Qt's wayland platform) on a headless sway, no key grab (Wayland allows
none), so the talk key is ``ptt-assistant --toggle`` run from another process, as the
compositor's key binding runs it; another Wayland application (``testkit.text_field``) has
focus and receives the transcript through wtype; the clipboard the user set with wl-copy is
untouched. And where no typing tool is installed, the text is left on the clipboard with a
note saying what to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testkit import paths
from testkit.servers import dbus_session, sway_headless
from tests.desktop.test_dictation import dictated, is_the_question
from tests.desktop.test_real_window import (  # noqa: F401 - fixtures
    READY_TIMEOUT_S,
    App,
    play,
    pulse_env,
    spoken_clip,
)

USERS_CLIPBOARD = "copied before dictating"


@pytest.fixture
def wayland(pulse_env, tmp_path):  # noqa: F811
    """The session's environment: the sound server, the compositor, Dictate mode."""
    settings = tmp_path / "config" / "ptt-assistant" / "ptt-assistant.conf"
    settings.parent.mkdir(parents=True)
    settings.write_text("[ui]\nmode=dictate\n")
    with sway_headless() as compositor:
        env = {
            **pulse_env,
            **compositor,
            # the sound server by its socket: XDG_RUNTIME_DIR is the app's, not sway's
            "PULSE_SERVER": f"unix:{pulse_env['XDG_RUNTIME_DIR']}/pulse/native",
            "HOME": os.environ["HOME"],
            "QT_QPA_PLATFORM": "wayland",
            "XDG_SESSION_TYPE": "wayland",
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "HF_HUB_OFFLINE": "1",
        }
        env.pop("DISPLAY", None)
        yield env


def field(env: dict[str, str], out) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "testkit.text_field", str(out)],
        env={**env, "PYTHONPATH": str(paths.ROOT)},
    )
    deadline = time.monotonic() + 30
    while not out.exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)  # mapped and focused (sway focuses the newest window)
    return process


def toggle(env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(paths.ROOT / ".venv" / "bin" / "ptt-assistant"), "--toggle"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 0, done
    return done.stdout.strip()


def dictate(app: App, env: dict[str, str], clip) -> str:
    assert toggle(env) == "recording"
    play(env, clip).wait(30)
    time.sleep(0.3)
    assert toggle(env) == "sent"
    return dictated(app)


def clipboard(env: dict[str, str]) -> str:
    return subprocess.run(
        ["wl-paste", "--no-newline"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout


def wait_text(out, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not out.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return out.read_text()


def test_toggle_dictates_into_the_focused_wayland_application(
    wayland,
    spoken_clip,  # noqa: F811
    tmp_path,
):
    clip, _ = spoken_clip
    subprocess.run(["wl-copy", USERS_CLIPBOARD], env=wayland, check=True, timeout=10)
    app = App(None, wayland, tmp_path / "app.log")
    target = None
    try:
        app.wait_for(r"window ready: ", READY_TIMEOUT_S)
        assert "dictation: typing with wtype" in app.log
        out = tmp_path / "typed.txt"
        target = field(wayland, out)
        text = dictate(app, wayland, clip)
        app.wait_for(r"dictation: \d+ characters delivered", 30)
        assert is_the_question(text), text
        assert wait_text(out) == text  # every character, the first one too
        pasted = clipboard(wayland)
        assert pasted == USERS_CLIPBOARD
    finally:
        if target is not None:
            target.kill()
        app.kill()


def test_without_a_typing_tool_the_text_is_left_on_the_clipboard_with_a_note(
    wayland,
    spoken_clip,  # noqa: F811
    tmp_path,
):
    """A PATH without wtype or ydotool: everything else on it is still there."""
    clip, _ = spoken_clip
    tools = tmp_path / "bin"
    tools.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if (
                tool.name not in ("wtype", "ydotool")
                and not (tools / tool.name).exists()
            ):
                (tools / tool.name).symlink_to(tool)
    env = {**wayland, "PATH": str(tools)}
    app = App(None, env, tmp_path / "app.log")
    target = None
    try:
        app.wait_for(r"window ready: ", READY_TIMEOUT_S)
        assert "nothing can type on this Wayland desktop: install wtype" in app.log
        out = tmp_path / "typed.txt"
        target = field(env, out)
        text = dictate(app, env, clip)
        note = app.wait_for(r"dictation: \d+ characters delivered in \d+ ms: (.*)", 30)
        assert "It is on the clipboard: paste it with Ctrl+V" in note.group(1)
        pasted = clipboard(env)
        assert pasted == text
        assert out.read_text() == ""  # nothing was typed
    finally:
        if target is not None:
            target.kill()
        app.kill()


def test_the_desktops_shortcut_dictates_with_press_and_release(
    wayland,
    spoken_clip,  # noqa: F811
    tmp_path,
):
    """GNOME 48+ and KDE: the talk key through the GlobalShortcuts portal (the desktop's
    side faked on a private D-Bus bus), held down while the question plays, then let go."""
    clip, _ = spoken_clip
    settings = Path(wayland["XDG_CONFIG_HOME"]) / "ptt-assistant" / "ptt-assistant.conf"
    settings.write_text(
        "[ui]\nmode=dictate\npush_to_talk_key=F9\nsystem_wide_key=true\n"
    )
    with dbus_session() as bus:
        env = {**wayland, **bus.env}
        app = App(None, env, tmp_path / "app.log")
        target = None
        try:
            app.wait_for(r"window ready: ", READY_TIMEOUT_S)
            app.wait_for(r"the desktop bound push-to-talk to 'F9'", 30)
            out = tmp_path / "typed.txt"
            target = field(env, out)
            bus.call("Press")
            app.wait_for(r"recording started", 10)
            play(env, clip).wait(30)
            time.sleep(0.3)
            bus.call("Release")
            text = dictated(app)
            assert is_the_question(text), text
            assert wait_text(out) == text
        finally:
            if target is not None:
                target.kill()
            app.kill()
