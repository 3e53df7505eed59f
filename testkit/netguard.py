"""Run a module with network access refused and reported, to prove a path needs none.

    python -m testkit.netguard MODULE [ARGS...]

An audit hook sees every name lookup and every internet socket connect made through
Python, writes ``NETWORK ATTEMPT`` to stderr (so an attempt shows even where a library
swallows the error) and refuses it. Local sockets (X11, PulseAudio) stay allowed, and so
does the one ``HOST:PORT`` named in ``PTT_NETGUARD_ALLOW`` (a configured server).
"""

from __future__ import annotations

import os
import runpy
import socket
import sys

MARK = "NETWORK ATTEMPT"
LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"}
CONNECTS = {"socket.connect", "socket.sendto", "socket.sendmsg"}


_ALLOWED = os.environ.get("PTT_NETGUARD_ALLOW", "")


def _allowed(event: str, args: tuple) -> bool:
    if not _ALLOWED:
        return False
    host, _, port = _ALLOWED.rpartition(":")
    if event in LOOKUPS:
        return args[0] == host
    address = args[1]
    return (
        isinstance(address, tuple) and f"{address[0]}:{address[1]}" == f"{host}:{port}"
    )


def _hook(event: str, args: tuple) -> None:
    if (
        event in LOOKUPS
        or (event in CONNECTS and args[0].family in (socket.AF_INET, socket.AF_INET6))
    ) and not _allowed(event, args):
        sys.stderr.write(f"{MARK}: {event} {args[1:]!r}\n")
        sys.stderr.flush()
        raise ConnectionRefusedError(
            f"network access refused by testkit.netguard: {event}"
        )


def install() -> None:
    sys.addaudithook(_hook)


if __name__ == "__main__":
    install()
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
