"""Where spoken answers go: a sink takes float32 mono blocks in order. :class:`DeviceSink`
plays through sounddevice (PortAudio) from its own callback thread; :class:`WavSink` writes
a file, through a partial file renamed only when complete."""

from __future__ import annotations

import collections
import os
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from core.sound import load_sounddevice


class Sink(Protocol):
    def write(self, samples: np.ndarray) -> None:
        """Queue float32 mono samples for output, in order."""
        ...

    def silence(self) -> None:
        """Stop sounding at once and drop whatever is queued."""
        ...

    def drain(self) -> None:
        """Block until everything written has been heard."""
        ...

    def pending_s(self) -> float:
        """Seconds of speech written but not yet played (0 for a sink that never waits)."""
        ...

    def close(self) -> None: ...


class SpeechOutputError(RuntimeError):
    """No output device can play speech; the message says why."""


class DeviceSink:
    """Plays through an output device; PortAudio's callback pulls from a queue of blocks, so
    a stop drops the queue and aborts the stream, discarding what the device has buffered."""

    def __init__(
        self,
        sample_rate: int,
        device: int | str | None = None,
        block_s: float = 0.02,
        latency_s: float = 0.1,
        backend: Any = None,
    ) -> None:
        if backend is None:
            try:
                backend = load_sounddevice("output")
            except OSError as exc:
                raise SpeechOutputError(str(exc)) from None
        self.sample_rate = sample_rate
        self.block = max(1, int(sample_rate * block_s))
        self._lock = threading.Lock()
        self._queued: collections.deque[np.ndarray] = collections.deque()
        self._offset = 0  # samples of the first queued array already played
        self._idle = threading.Condition(self._lock)
        self.underflows = 0  # times the device ran dry (audible as a click or gap)
        try:
            self._stream = backend.OutputStream(
                samplerate=sample_rate,
                channels=1,
                dtype="float32",
                device=device,
                blocksize=self.block,
                # Room for a busy machine (a shorter buffer ran dry while the model answered);
                # a stop discards it rather than letting it play out.
                latency=latency_s,
                callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudioError, ValueError: no device
            raise SpeechOutputError(
                f"no output device can play speech: {exc}"
            ) from None

    def _callback(self, out: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        if status.output_underflow:
            self.underflows += 1
        filled = 0
        with self._lock:
            while filled < frames and self._queued:
                head = self._queued[0]
                take = min(frames - filled, len(head) - self._offset)
                out[filled : filled + take, 0] = head[
                    self._offset : self._offset + take
                ]
                filled += take
                self._offset += take
                if self._offset == len(head):
                    self._queued.popleft()
                    self._offset = 0
            if not self._queued:
                self._idle.notify_all()
        out[filled:, 0] = 0.0

    def write(self, samples: np.ndarray) -> None:
        with self._lock:
            self._queued.append(np.asarray(samples, np.float32))

    def pending_s(self) -> float:
        with self._lock:
            queued = sum(len(block) for block in self._queued) - self._offset
        return queued / self.sample_rate

    def silence(self) -> None:
        """Drop the queue and what the device has buffered: nothing more is heard."""
        with self._lock:
            self._queued.clear()
            self._offset = 0
            self._idle.notify_all()
        self._stream.abort()  # discards PortAudio's buffer instead of playing it out

    def drain(self) -> None:
        with self._lock:
            while self._queued:
                self._idle.wait(0.1)
        # what the callback took is still in PortAudio's buffer
        time.sleep(self._stream.latency + self.block / self.sample_rate)

    def close(self) -> None:
        self.silence()
        self._stream.close()


#: the file types ``--speak-to`` writes, by suffix
SPEECH_FILE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}


class WavSink:
    """Writes the speech to a WAV or FLAC file (``ptt-ask --speak-to``), through a hidden
    partial file beside it: the named file appears, whole, only when the answer is
    complete, and a file already there is untouched by a failed run."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.path = path
        self._partial = path.with_name(f".{path.name}.partial")
        self._file = sf.SoundFile(
            self._partial,
            "w",
            samplerate=sample_rate,
            channels=1,
            subtype="PCM_16",
            format=SPEECH_FILE_FORMATS[path.suffix.lower()],
        )

    def write(self, samples: np.ndarray) -> None:
        self._file.write(samples)

    def silence(self) -> None:
        pass  # a file keeps what was written

    def drain(self) -> None:
        self._file.flush()

    def pending_s(self) -> float:
        return 0.0  # written at once: never worth waiting for

    def close(self) -> None:
        """The speech is complete: the file takes its name."""
        self._file.close()
        os.replace(self._partial, self.path)

    def discard(self) -> None:
        """No answer to keep (an error, an interruption): nothing is left behind."""
        self._file.close()
        self._partial.unlink(missing_ok=True)
