"""Run a module with network access refused and reported, to prove a path needs none.

    python -m tests.netguard MODULE [ARGS...]

An audit hook sees every name lookup and every internet socket connect made through
Python, writes ``NETWORK ATTEMPT`` to stderr (so an attempt shows even where a library
swallows the error) and refuses it. Local sockets (X11, PulseAudio) stay allowed.
"""

from __future__ import annotations

import runpy
import socket
import sys

MARK = "NETWORK ATTEMPT"
LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"}
CONNECTS = {"socket.connect", "socket.sendto", "socket.sendmsg"}


def _hook(event: str, args: tuple) -> None:
    if event in LOOKUPS or (
        event in CONNECTS and args[0].family in (socket.AF_INET, socket.AF_INET6)
    ):
        sys.stderr.write(f"{MARK}: {event} {args[1:]!r}\n")
        sys.stderr.flush()
        raise ConnectionRefusedError(
            f"network access refused by tests.netguard: {event}"
        )


def install() -> None:
    sys.addaudithook(_hook)


if __name__ == "__main__":
    install()
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
