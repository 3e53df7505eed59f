"""A stand-in for the sounddevice module: the sound card is the one boundary we fake."""

from __future__ import annotations

import threading
import time

import numpy as np


class PortAudioError(Exception):
    pass


class FakeInputStream:
    def __init__(
        self,
        owner,
        samplerate,
        channels,
        dtype,
        blocksize,
        device,
        callback,
        finished_callback,
    ):
        self.owner = owner
        self.samplerate = samplerate
        self.blocksize = blocksize
        self.device = device
        self.callback = callback
        self.finished_callback = finished_callback
        self.active = False
        self.closed = False

    def start(self):
        self.active = True

    def stop(self):
        self.active = False

    def close(self):
        self.closed = True

    def feed(self, samples: np.ndarray) -> None:
        """Deliver ``samples`` block by block, as PortAudio's callback would (this thread)."""
        for start in range(0, len(samples), self.blocksize):
            block = samples[start : start + self.blocksize].astype(np.float32)
            self.callback(block[:, None], len(block), None, None)

    def feed_in_thread(self, samples: np.ndarray) -> threading.Thread:
        thread = threading.Thread(
            target=self.feed, args=(samples,), name="fake-portaudio"
        )
        thread.start()
        return thread

    def vanish(self) -> None:
        """The device is unplugged: PortAudio ends the stream."""
        self.active = False
        self.finished_callback()


class FakeSoundDevice:
    PortAudioError = PortAudioError

    def __init__(self, devices=None, fail_open: str | None = None) -> None:
        self.devices = (
            [
                {
                    "name": "Fake USB mic",
                    "max_input_channels": 1,
                    "default_samplerate": 16000.0,
                }
            ]
            if devices is None
            else devices
        )
        self.fail_open = fail_open
        self.streams: list[FakeInputStream] = []
        self.played: list[tuple[np.ndarray, int]] = []

    @property
    def stream(self) -> FakeInputStream:
        return self.streams[-1]

    def InputStream(self, **kwargs):
        if self.fail_open or not self.devices:
            raise PortAudioError(self.fail_open or "Error querying device -1")
        stream = FakeInputStream(self, **kwargs)
        self.streams.append(stream)
        return stream

    def query_devices(self, device=None, kind=None):
        if kind is not None:
            if not self.devices:
                raise PortAudioError("Error querying device -1")
            return self.devices[device or 0]
        return self.devices

    def play(self, samples, samplerate):
        self.played.append((samples, samplerate))


class RealTimeMic(threading.Thread):
    """Feeds the stand-in stream 20 ms blocks on a 20 ms clock: the clip when asked, else noise."""

    def __init__(self, sound: FakeSoundDevice) -> None:
        super().__init__(name="mic", daemon=True)
        self.sound = sound
        self.queue: list[np.ndarray] = []
        self.running = True

    def say(self, samples: np.ndarray) -> None:
        self.queue.append(samples)

    def run(self) -> None:
        rng = np.random.default_rng(0)
        speech = np.zeros(0, np.float32)
        block = self.sound.stream.blocksize
        tick = time.perf_counter()
        while self.running:
            if not len(speech) and self.queue:
                speech = self.queue.pop(0)
            if len(speech):
                chunk, speech = speech[:block], speech[block:]
                chunk = np.pad(chunk, (0, block - len(chunk)))
            else:
                chunk = (rng.standard_normal(block) * 0.001).astype(np.float32)
            self.sound.stream.callback(chunk[:, None], block, None, None)
            tick += block / self.sound.stream.samplerate
            time.sleep(max(0.0, tick - time.perf_counter()))
