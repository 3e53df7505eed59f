"""The voice in a process of its own, so that synthesising speech never takes the GIL (or a
high-priority core) from the chat model's decoding or the window's event loop.

:class:`VoiceProcess` has :class:`~core.speech.voice.Voice`'s interface. It starts a child Python
process once (``python -m core.speech.voice_process``), which loads the voice and then synthesises
one request at a time at a lower CPU priority; it is reused for every answer. Requests and
audio travel over a socket pair, each request tagged with a job number: ``cancel`` (barge-in)
ends the caller's wait at once and drops whatever the child still sends for that job, without
waiting for the synthesis under way. If the child dies, whoever is waiting gets a
:class:`~core.speech.voice.VoiceError` saying so, and the next request starts a new child. ``close``
ends the child and the thread that reads from it; a child whose parent has gone reads the end
of its socket and exits.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Self

import numpy as np

from core.speech.voice import Voice, VoiceError

log = logging.getLogger(__name__)

#: the child's niceness: synthesis yields the cores to the window and to decoding (whose
#: threads run at nice 10, core/streaming/priority.py); synthesis is many times faster than
#: speech, so it keeps ahead even when it waits
NICE = 15
_DONE = object()
_CANCELLED = object()


class VoiceProcess:
    """A piper voice loaded and run in a child process; the same calls as ``Voice``."""

    def __init__(
        self, onnx: Path, nice: int = NICE, start_timeout_s: float = 60.0
    ) -> None:
        """Starts the child and waits until its voice is loaded (seconds: call it off the
        GUI thread, before the first answer). Raises VoiceError for an unusable voice."""
        self.onnx, self.nice, self.start_timeout_s = onnx, nice, start_timeout_s
        self.sample_rate: int = 0
        self.name = onnx.stem
        self.starts = 0  # children started: 1, plus one per restart after a crash
        self._lock = threading.Lock()  # the job table; held only for moments
        self._send_lock = threading.Lock()  # one message at a time on the socket
        self._start_lock = threading.Lock()  # (re)starting or closing the child
        self._jobs: dict[int, tuple[object, queue.SimpleQueue]] = {}
        self._numbers = itertools.count(1)
        self._process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None
        self._running = False  # a child is up and its reader is reading
        self._closed = False
        self._start()

    # -- the child's lifetime -----------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "core.speech.voice_process"),
                    *(str(theirs.fileno()), str(self.onnx), str(self.nice)),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        conn = Connection(ours.detach())
        try:
            if not conn.poll(self.start_timeout_s):
                raise VoiceError(
                    f"the voice process did not load {self.onnx.name}"
                    f" within {self.start_timeout_s:.0f} s"
                )
            message = conn.recv()
            if message[0] != "ready":
                raise VoiceError(message[1])
        except (EOFError, OSError):
            conn.close()
            _end(process)
            raise VoiceError(
                "the voice process ended while loading the voice"
                f" ({_exit(process.returncode)})"
            ) from None
        except BaseException:
            conn.close()
            _end(process)
            raise
        _, self.sample_rate, self.name = message
        reader = threading.Thread(
            target=self._read, args=(conn, process), name="ptt-voice", daemon=True
        )
        with self._lock:
            self._process, self._conn, self._reader = process, conn, reader
            self._running = True
        self.starts += 1
        reader.start()

    def close(self) -> None:
        """End the child (at once: nothing it was doing is wanted) and its reader thread.
        Whoever still waits for audio gets a VoiceError."""
        with self._start_lock:
            self._closed = True
            if self._process is None:
                return
            _end(self._process)
            assert self._reader is not None and self._conn is not None
            self._reader.join(5)
            self._conn.close()
            self._process = self._reader = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _read(self, conn: Connection, process: subprocess.Popen) -> None:
        """The reader thread: hands each audio block to the job waiting for it."""
        try:
            while True:
                kind, number, *rest = conn.recv()
                with self._lock:
                    job = self._jobs.get(number)
                if job is None:  # cancelled: nobody wants it
                    continue
                if kind == "audio":
                    job[1].put(np.frombuffer(rest[0], np.float32))
                elif kind == "error":
                    job[1].put(VoiceError(rest[0]))
                else:
                    job[1].put(_DONE)
        except (EOFError, OSError):
            pass  # the child has ended
        code = process.wait()
        with self._lock:
            self._running = False
            if self._closed:
                error = VoiceError("the voice was closed")
            else:
                error = VoiceError(
                    f"the voice process ended unexpectedly ({_exit(code)});"
                    " the next answer starts a new one"
                )
                log.warning("%s", error)
            for _tag, results in self._jobs.values():
                results.put(error)
            self._jobs.clear()

    # -- speaking ------------------------------------------------------------------------

    def synthesize(
        self, text: str, rate: float = 1.0, tag: object = None
    ) -> Iterator[np.ndarray]:
        """float32 mono audio for ``text``, a piece per sentence, synthesised in the child.
        ``cancel(tag)`` ends it at once. Starts a new child if the last one died."""
        with self._start_lock:
            if self._closed:
                raise VoiceError("the voice was closed")
            if not self._running:
                self._restart()
        results: queue.SimpleQueue = queue.SimpleQueue()
        with self._lock:
            number = next(self._numbers)
            self._jobs[number] = (tag, results)
        try:
            self._send(("say", number, text, rate))
            while (item := results.get()) is not _DONE:
                if item is _CANCELLED:
                    return
                if isinstance(item, VoiceError):
                    raise item
                yield item
        finally:
            with self._lock:
                self._jobs.pop(number, None)

    def cancel(self, tag: object) -> None:
        """Drop every synthesis tagged ``tag``: its caller stops waiting now, whatever the
        child still sends for it is discarded, and a request it has not begun is skipped."""
        with self._lock:
            numbers = [n for n, (t, _) in self._jobs.items() if t is tag]
            for number in numbers:
                self._jobs.pop(number)[1].put(_CANCELLED)
        for number in numbers:
            self._send(("cancel", number), quiet=True)

    def _restart(self) -> None:
        if self._process is not None:
            assert self._reader is not None and self._conn is not None
            self._reader.join(5)
            self._conn.close()
            self._process = self._reader = None
        log.info("starting the voice process again")
        self._start()

    def _send(self, message: tuple, quiet: bool = False) -> None:
        try:
            with self._send_lock:
                assert self._conn is not None
                self._conn.send(message)
        except (OSError, ValueError) as exc:  # the child is gone; the reader reports it
            if not quiet:
                raise VoiceError(f"the voice process is gone: {exc}") from None


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


# -- the child ---------------------------------------------------------------------------


def serve(conn: Connection, onnx: Path, nice: int) -> None:
    """Load the voice, say so, then synthesise each request in turn until the socket ends.
    Requests cancelled before their turn are skipped."""
    try:
        voice = Voice(onnx)
    except VoiceError as exc:
        conn.send(("unusable", str(exc)))
        return
    # After loading: the first answer should not wait for it. On Linux this lowers the
    # calling thread only; Voice synthesises on it (one ONNX Runtime thread, no pool).
    if hasattr(os, "nice"):  # not on Windows
        os.nice(nice)
    conn.send(("ready", voice.sample_rate, voice.name))
    waiting: collections.deque[tuple] = collections.deque()
    while True:
        try:
            if not waiting:
                waiting.append(conn.recv())
            while conn.poll():
                waiting.append(conn.recv())
        except (EOFError, OSError):
            return  # the parent closed its end, or has gone
        cancelled = {m[1] for m in waiting if m[0] == "cancel"}
        waiting = collections.deque(
            m for m in waiting if m[0] == "say" and m[1] not in cancelled
        )
        if not waiting:
            continue
        _, number, text, rate = waiting.popleft()
        try:
            for audio in voice.synthesize(text, rate):
                conn.send(("audio", number, audio.tobytes()))
            conn.send(("done", number))
        except (EOFError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 - reported to the one request, voice lives on
            conn.send(("error", number, f"synthesis failed: {exc}"))


if __name__ == "__main__":
    fd, onnx, nice = sys.argv[1:]
    serve(Connection(int(fd)), Path(onnx), int(nice))
