"""The typing itself (``desktop_app.dictation``), against a real X server (Xvfb) and another
real application (``testkit.text_field``): every character arrives, including those the
keyboard has no key for, undo erases exactly what was typed, the keyboard mapping is left
as it was, our own window is never typed into, and a typing tool that fails hands over to
the next, then to the clipboard with a note."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from Xlib import display

from core.config import DictationSettings
from desktop_app.dictation.dictation import Dictation
from desktop_app.dictation.typists import (
    WtypeTypist,
    XTestTypist,
    find_typists,
)
from testkit import paths
from testkit.servers import xvfb


@pytest.fixture
def x_server(monkeypatch):
    with xvfb() as server:
        monkeypatch.setenv("DISPLAY", server.name)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
        yield server


@pytest.fixture
def field(x_server, tmp_path, qapp):
    """Another application with focus (none of ours: the offscreen platform makes any
    shown window active, so an earlier test's are hidden); returns the file it writes."""
    for widget in qapp.topLevelWidgets():
        widget.hide()
    out = tmp_path / "field.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "testkit.text_field", str(out)],
        env={
            "DISPLAY": x_server.name,
            "QT_QPA_PLATFORM": "xcb",
            "PYTHONPATH": str(paths.ROOT),
            "PATH": "/usr/bin:/bin",
        },
    )
    deadline = time.monotonic() + 30
    while True:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "^Dictation target$"],
            env={"DISPLAY": x_server.name},
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if found and out.exists():
            break
        assert time.monotonic() < deadline, "the text field did not open"
        time.sleep(0.1)
    x_server.xdotool("windowfocus", "--sync", found[0])
    yield out
    process.kill()
    process.wait(10)


def done(qtbot, coroutine):
    """The coroutine run on the window's event loop, as the app runs it."""
    task = asyncio.ensure_future(coroutine)
    qtbot.waitUntil(task.done, timeout=20000)
    return task.result()


def holds(out: Path, text: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while out.read_text() != text and time.monotonic() < deadline:
        time.sleep(0.02)
    return out.read_text() == text


def keyboard(server) -> list:
    conn = display.Display(server.name)
    low, high = conn.display.info.min_keycode, conn.display.info.max_keycode
    mapping = conn.get_keyboard_mapping(low, high - low + 1)
    conn.close()
    return mapping


def test_every_character_arrives_and_undo_erases_exactly_it(x_server, field, qtbot):
    before = keyboard(x_server)
    dictation = Dictation(DictationSettings())
    assert [t.name for t in dictation.typists] == ["XTest"]
    spoken = "Ça coûte 5 € — naïve Grüße, 100% sure?"
    said = done(qtbot, dictation.deliver(spoken))
    assert said == "Typed with XTest."
    assert holds(field, spoken + " ")  # the trailing space
    assert keyboard(x_server) == before  # the spare keycodes were given back
    done(qtbot, dictation.deliver("And more."))
    assert holds(field, spoken + " And more. ")
    assert (done(qtbot, dictation.undo())).startswith("Removed the last dictation (10")
    assert holds(field, spoken + " ")
    assert done(qtbot, dictation.undo()) == "There is no dictation to undo."


def test_our_own_window_is_never_typed_into(x_server, field, qtbot):
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    dictation = Dictation(DictationSettings())
    said = done(qtbot, dictation.deliver("Not for us."))
    assert said.startswith("Not typed: this window has focus")
    qtbot.wait(300)
    assert field.read_text() == ""
    assert not dictation.can_undo


def test_a_failing_tool_hands_over_and_the_last_resort_is_the_clipboard(
    tmp_path, qtbot, qapp
):
    """wtype on a compositor without the virtual-keyboard protocol (GNOME, KDE) fails with
    this message; the next tool is tried, then the text is left on the clipboard."""
    tool = tmp_path / "wtype"
    tool.write_text(
        "#!/bin/sh\necho 'Compositor does not support the virtual keyboard protocol' >&2"
        "\nexit 1\n"
    )
    tool.chmod(0o755)
    typed = tmp_path / "typed"
    other = tmp_path / "ydotool"
    other.write_text(f"#!/bin/sh\nshift\nprintf '%s' \"$2\" > {typed}\n")
    other.chmod(0o755)
    from desktop_app.dictation.typists import YdotoolTypist

    failing = Dictation(
        DictationSettings(), typists=([WtypeTypist(str(tool))], "wtype")
    )
    said = done(qtbot, failing.deliver("Keep me."))
    assert "virtual keyboard protocol" in said and "on the clipboard" in said
    assert qapp.clipboard().text() == "Keep me. "
    assert not failing.can_undo

    handed = Dictation(
        DictationSettings(),
        typists=([WtypeTypist(str(tool)), YdotoolTypist(str(other))], "both"),
    )
    assert done(qtbot, handed.deliver("Over to you.")) == "Typed with ydotool."
    assert typed.read_text() == "Over to you. "


def test_what_is_found_on_each_desktop(tmp_path, x_server):
    wayland = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": x_server.name}
    found, said = find_typists(wayland, which=lambda tool: None)
    assert found == [] and "install wtype" in said and "ydotool" in said
    found, said = find_typists(wayland, which=lambda tool: f"/usr/bin/{tool}")
    assert [t.name for t in found] == ["wtype", "ydotool"]  # never XTest on Wayland
    found, said = find_typists({"DISPLAY": x_server.name})
    assert isinstance(found[0], XTestTypist) and said == "typing with XTest"
    found[0].close()
    assert find_typists({}) == ([], "no graphical session to type into")
    found, said = find_typists({"DISPLAY": ":99"})
    assert found == [] and said.startswith("nothing can type here")
