"""``ptt-assistant``'s entry point, and the commands that drive the running window.

One window runs per user: it listens on a local socket (``desktop_app.command_server``).
``ptt-assistant --toggle`` (``--start``, ``--stop``, ``--undo``) hands its command to it and
exits at once, so a desktop's own shortcut can hold the talk key where no application may
grab one (Sway, Hyprland, niri, GNOME's custom shortcuts). A plain second start brings the
running window forward instead of opening another.

This module imports the standard library only: a key bound to ``--toggle`` must not wait for
Qt and the models to import before the recording starts.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from desktop_app.instance_socket import socket_path

COMMANDS = ("toggle", "start", "stop", "undo")
#: how long a command waits for the running window to answer
REPLY_TIMEOUT_S = 2.0


def send(command: str, path: Path | None = None) -> str | None:
    """Hand ``command`` to the running window; its one-line reply, or None when no window
    is running."""
    path = path or socket_path()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(REPLY_TIMEOUT_S)
        try:
            conn.connect(str(path))
        except OSError:  # no socket, or a stale one: nothing is listening
            return None
        conn.sendall(command.encode() + b"\n")
        reply = b""
        try:
            while not reply.endswith(b"\n"):
                part = conn.recv(4096)
                if not part:
                    break
                reply += part
        except TimeoutError:
            return "the running window did not answer"
    return reply.decode(errors="replace").strip()


def _command(argv: list[str]) -> str | None:
    flags = [arg[2:] for arg in argv if arg.startswith("--") and arg[2:] in COMMANDS]
    return flags[-1] if flags else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command(argv)
    if command is not None:
        reply = send(command)
        if reply is None:
            print(
                f"ptt-assistant --{command}: no ptt-assistant window is running; start "
                "it first (ptt-assistant), then this command drives it",
                file=sys.stderr,
            )
            return 1
        print(reply)
        return 0
    if not {"-h", "--help"} & set(argv) and send("show") is not None:
        print("ptt-assistant is already running: its window was brought forward")
        return 0
    from desktop_app.app import main as run_window

    return run_window(argv)


if __name__ == "__main__":
    sys.exit(main())
