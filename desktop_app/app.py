"""Start the window: ``ptt-assistant [--config PATH] [--model ID]`` or ``python -m desktop_app``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QSocketNotifier, Qt
from PySide6.QtWidgets import QApplication

from core import ConfigError, StreamingEngine, load_config
from core.config import Config, validate_config
from core.models.names import what_it_names
from core.pipelines.catalog import choices
from desktop_app.audio_io import Recorder
from desktop_app.command_server import CommandServer
from desktop_app.controller import Controller
from desktop_app.display_check import display_problem
from desktop_app.keys.push_to_talk import DEFAULT_KEY, PushToTalk
from desktop_app.keys.x11_key_state import X11KeyState
from desktop_app.main_window import MainWindow

log = logging.getLogger(__name__)

# How long another Python thread (the engine streaming tokens, the audio callbacks, the
# voice's reader) may keep the GIL once the GUI thread asks for it. Every paint, timer and
# heightForWidth the window runs in Python asks for it, and at CPython's default 5 ms a
# repaint could wait several times (benchmarks/gui_responsiveness.py --gil-5ms compares).
GUI_SWITCH_INTERVAL_S = 0.001


def build(config: Config, settings: QSettings, audio_backend: Any = None) -> Controller:
    """The window and everything behind it, wired; ``start()`` opens the mic and loads."""
    window = MainWindow(config.audio.silence_threshold_dbfs)
    # Owned by the window: when it goes, Qt removes the application-wide key filter too.
    ptt = PushToTalk(
        str(settings.value("ui/push_to_talk_key", DEFAULT_KEY)),
        parent=window,
        key_state=X11KeyState() if X11KeyState.wanted() else None,
    )
    QApplication.instance().installEventFilter(ptt)
    recorder = Recorder(config.audio.sample_rate, backend=audio_backend)
    return Controller(window, StreamingEngine(config), recorder, ptt, settings)


def remembered_model(config: Config, settings: QSettings) -> Config:
    """The model last picked in the window, when it still names something the config knows
    (the embedded default, a server, a preset, a URL, a hub id or folder)."""
    model_id = settings.value("model/id")
    # Editing model.id in the config file wins over an older choice made in the window.
    config_id = settings.value("model/config_id")
    settings.setValue("model/config_id", config.model.id)
    if config_id not in (None, config.model.id):
        log.info("model.id changed in the config to %r: using it", config.model.id)
        settings.remove("model/id")
        return config
    if not model_id or model_id == config.model.id:
        return config
    known = {choice.model_id for choice in choices(config)}
    named = what_it_names(model_id)
    still_there = named is not None and (
        named.kind == "url"
        or (named.kind == "folder" and Path(model_id).expanduser().is_dir())
    )
    if not (model_id in known or still_there):
        log.warning(
            "ignoring the remembered model %r: the config no longer has it", model_id
        )
        return config
    try:
        chosen = validate_config(
            {
                **config.model_dump(),
                "model": {**config.model.model_dump(), "id": model_id},
            }
        )
    except ConfigError as exc:
        log.warning("ignoring the remembered model %r: %s", model_id, exc)
        return config
    return chosen


def close_on_signals(window: MainWindow) -> tuple[socket.socket, socket.socket]:
    """Ctrl+C or SIGTERM closes the window, so the app shuts down as if the user closed it.

    Python runs a signal handler only when the interpreter gets control, and Qt's loop may
    sit in C++ for long; the wakeup fd makes Qt's loop notice the signal at once."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, window)
    notifier.activated.connect(lambda: reader.recv(64))
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: window.quit_app())
    return reader, writer


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ptt-assistant", description="Push-to-talk voice assistant"
    )
    parser.add_argument(
        "--config", help="config file (default: the project's config.yaml)"
    )
    parser.add_argument(
        "--model",
        help="embedded, a preset, a servers entry, a server URL, a hub id or folder; "
        "overrides model.id and the window's last choice",
    )
    for command, does in (
        (
            "toggle",
            "start a recording in the running window, or send the one under way",
        ),
        ("start", "start a recording in the running window"),
        ("stop", "send the running window's recording"),
        ("undo", "erase the running window's last dictation"),
    ):
        parser.add_argument(f"--{command}", action="store_true", help=does)
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what happens to stderr; -vv also what was heard",
    )
    return parser.parse_args(argv)


def show_start_error(message: str) -> None:
    """Say why the window cannot start in a window too, when one can open: started from a
    desktop menu or launcher, nobody reads the terminal the message went to."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if (
        sys.stderr.isatty()  # run from a terminal: the message is there already
        or platform.startswith(("offscreen", "minimal"))
        or display_problem() is not None
    ):
        return
    from PySide6.QtWidgets import QMessageBox

    app = QApplication.instance() or QApplication(sys.argv[:1])
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "ptt-assistant cannot start",
        f"{message}\n\nFix the file and start ptt-assistant again.",
    )
    box.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the user's file
    box.exec()
    del app


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    if args.verbose > 1:  # our own details only, not every library's
        for name in ("core", "desktop_app"):
            logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        config = load_config(
            args.config, {"model": {"id": args.model}} if args.model else None
        )
    except ConfigError as exc:
        print(f"ptt-assistant: {exc}", file=sys.stderr)
        show_start_error(str(exc))
        return 2
    problem = display_problem()
    if problem is not None:
        print(f"ptt-assistant: {problem}", file=sys.stderr)
        return 1
    import qasync

    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ptt-assistant")
    app.setOrganizationName("ptt-assistant")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    settings = QSettings()
    if not args.model:  # --model wins; otherwise the window's last choice
        config = remembered_model(config, settings)
    controller = build(config, settings)
    controller.freeze_after_load = True
    # The app ends when the window is closed for good, not when the last visible window
    # goes (the window hidden in the tray, a dialog closed after it).
    app.setQuitOnLastWindowClosed(False)
    closed = asyncio.Event()
    controller.window.closed.connect(closed.set)
    wakeup = close_on_signals(controller.window)
    commands = CommandServer(controller.remote_command, controller.window)
    commands.listen()
    controller.window.show()
    controller.start()
    with loop:
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(controller.shutdown())
    commands.close()
    signal.set_wakeup_fd(-1)
    for end in wakeup:
        end.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
