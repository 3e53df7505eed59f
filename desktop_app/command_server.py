"""The running window's end of ``desktop_app.remote``: a local socket (QLocalServer) that
takes one command a line (toggle, start, stop, undo, show) and answers with a line."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from desktop_app.instance_socket import socket_path

log = logging.getLogger(__name__)


class CommandServer(QObject):
    def __init__(
        self, handle: Callable[[str], str], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.handle = handle
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        self.path = str(socket_path())

    def listen(self) -> bool:
        """Start listening; False (and a log line) when the socket cannot be had."""
        QLocalServer.removeServer(self.path)  # a crashed window's leftover socket
        if self.server.listen(self.path):
            log.info("commands: listening on %s", self.path)
            return True
        log.warning(
            "commands: cannot listen on %s: %s", self.path, self.server.errorString()
        )
        return False

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            conn = self.server.nextPendingConnection()
            conn.readyRead.connect(lambda conn=conn: self._read(conn))
            conn.disconnected.connect(conn.deleteLater)

    def _read(self, conn: QLocalSocket) -> None:
        while conn.canReadLine():
            command = bytes(conn.readLine()).decode(errors="replace").strip()
            try:
                reply = self.handle(command)
            except Exception as exc:
                log.exception("commands: %r failed", command)
                reply = f"{command} failed: {exc}"
            log.info("commands: %s -> %s", command, reply)
            conn.write(reply.encode() + b"\n")
            conn.flush()
