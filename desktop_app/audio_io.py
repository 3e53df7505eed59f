"""Microphone capture and clip playback through sounddevice (PortAudio).

The input stream stays open while the window is, so the energy meter is live at all times;
push-to-talk only decides which blocks are kept. A recording starts with the last
``PRE_ROLL_S`` before the key went down, so a word begun with the press keeps its start. Everything in the PortAudio callback is
cheap (one RMS per 20 ms block); the level crosses to the GUI thread as a queued signal.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.audio import rms_dbfs
from core.sound import load_sounddevice

log = logging.getLogger(__name__)

#: sound from before the key press a recording starts with: people press and speak at once,
#: and a press takes some 50-100 ms to reach the app (more through a desktop shortcut)
PRE_ROLL_S = 0.5


class Recorder(QObject):
    level_changed = Signal(
        float
    )  # dBFS of the latest block, emitted from PortAudio's thread
    failed = Signal(str)  # could not open, or the device went away
    # The recording (by its serial) hit its length limit; later blocks are dropped.
    limit_reached = Signal(int)

    def __init__(
        self, sample_rate: int, block_s: float = 0.02, backend: Any = None
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate  # the model's rate, asked of the device first
        self.stream_rate = sample_rate  # what the device actually delivers
        self.block_s = block_s
        self._backend = backend
        self._stream = None
        self._closing = False
        self._lock = threading.Lock()
        self._blocks: list[np.ndarray] = []
        # the latest blocks while not recording: the next recording's first PRE_ROLL_S
        self._recent: deque[np.ndarray] = deque(maxlen=math.ceil(PRE_ROLL_S / block_s))
        self._recording = False
        self._kept = 0  # samples kept in this recording
        self._limit: int | None = None  # most samples to keep, at the stream's rate
        self.serial = 0  # counts recordings, so a late limit signal finds its own
        self.device: int | None = None

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = load_sounddevice()
        return self._backend

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    def input_devices(self) -> list[tuple[int, str]]:
        return devices_with(self.backend, "max_input_channels")

    def open(self, device: int | None = None) -> bool:
        """Open (or reopen) the input stream; on failure emit ``failed`` and return False."""
        self.close()
        self.device = device
        try:
            self._stream = self._start_stream(self.sample_rate)
        except Exception as first:  # noqa: BLE001 - PortAudio raises several types
            try:  # some devices only run at their own rate; the engine resamples
                rate = int(
                    self.backend.query_devices(device, "input")["default_samplerate"]
                )
                self._stream = (
                    self._start_stream(rate) if rate != self.sample_rate else None
                )
            except Exception:  # noqa: BLE001
                self._stream = None
            if self._stream is None:
                if not self.input_devices():
                    self.failed.emit(
                        "No microphone found: the sound system lists no input device. "
                        "Plug one in, then choose it under Mic."
                    )
                else:
                    self.failed.emit(f"No microphone could be opened: {first}")
                return False
        return True

    def _start_stream(self, rate: int):
        stream = self.backend.InputStream(
            samplerate=rate,
            channels=1,
            dtype="float32",
            blocksize=int(rate * self.block_s),
            device=self.device,
            callback=self._on_block,
            finished_callback=self._on_finished,
        )
        self._closing = False
        self._recent.clear()  # another device's, or another rate's
        stream.start()
        self.stream_rate = rate
        return stream

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._closing = True
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # noqa: BLE001 - a vanished device may fail to close
                log.debug("closing the input stream: %s", exc)

    def start_recording(self, limit_s: float | None = None) -> None:
        """Keep blocks from now on, at most ``limit_s`` seconds of them."""
        with self._lock:
            self._blocks = list(self._recent)
            self._recent.clear()
            self._kept = sum(len(block) for block in self._blocks)
            self._limit = None if limit_s is None else int(limit_s * self.stream_rate)
            self.serial += 1
            self._recording = True

    def stop_recording(self) -> np.ndarray:
        with self._lock:
            self._recording = False
            blocks, self._blocks = self._blocks, []
        return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)

    def snapshot(self) -> np.ndarray:
        """The recording so far, without ending it."""
        with self._lock:
            blocks = list(self._blocks)
        return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)

    @property
    def is_recording(self) -> bool:
        return self._recording

    @property
    def recorded_s(self) -> float:
        return self._kept / self.stream_rate if self.stream_rate else 0.0

    @property
    def limit_s(self) -> float | None:
        return None if self._limit is None else self._limit / self.stream_rate

    def _on_block(
        self, indata: np.ndarray, frames: int, time_info: Any, status: Any
    ) -> None:
        mono = indata[:, 0]
        full = False
        with self._lock:
            serial = self.serial
            if self._recording:
                room = len(mono) if self._limit is None else self._limit - self._kept
                if room > 0:
                    kept = mono[:room].copy()
                    self._blocks.append(kept)
                    self._kept += len(kept)
                full = self._limit is not None and self._kept >= self._limit
                if full:  # keep what there is; the GUI thread ends the recording
                    self._recording = False
            else:
                self._recent.append(mono.copy())
        self.level_changed.emit(rms_dbfs(mono))
        if full:
            self.limit_reached.emit(serial)

    def _on_finished(self) -> None:
        if not self._closing:
            self._stream = None
            self.failed.emit(
                "The microphone stopped delivering audio (was it unplugged?)"
            )


def devices_with(backend: Any, channels: str) -> list[tuple[int, str]]:
    """(index, name) of the devices with ``channels`` (``max_input_channels`` or
    ``max_output_channels``) above zero; none when PortAudio is missing or fails."""
    try:
        devices = backend.query_devices()
    except Exception:  # noqa: BLE001 - no PortAudio, or it failed: no devices
        return []
    return [(i, d["name"]) for i, d in enumerate(devices) if d.get(channels, 0) > 0]


def play(samples: np.ndarray, sample_rate: int, backend: Any = None) -> None:
    """Play a clip on the default output device, without blocking."""
    (backend or load_sounddevice()).play(samples, sample_rate)
