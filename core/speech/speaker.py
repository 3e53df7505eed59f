"""Speaking an answer while it streams: each finished sentence is synthesised (by a
:class:`~core.speech.voice_process.VoiceProcess` in its own process, or a :class:`~core.speech.voice.Voice`
in this one) for a worker thread and played in order while later text is still being
generated.

``Speaker.feed`` takes the answer's text as it arrives (from any thread, or the event loop);
``finish`` says the answer is complete; ``stop`` is barge-in: the output falls silent within
a few tens of milliseconds, queued sentences are dropped, and nothing more of this answer is
heard. Synthesis and playback never run on the caller's thread.

Sinks: :class:`DeviceSink` plays through sounddevice (PortAudio) from its own callback
thread; :class:`WavSink` writes a file.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile as sf

from core.speech.sentences import SentenceSplitter
from core.speech.voice import Voice
from core.speech.voice_process import VoiceProcess

log = logging.getLogger(__name__)

_END = object()


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
                import sounddevice as backend
            except OSError as exc:
                raise SpeechOutputError(
                    f"audio output is unavailable: {exc} "
                    "(on Debian/Ubuntu: apt-get install libportaudio2)"
                ) from None
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


#: a sentence is synthesised once less than this much speech is left to play before it:
#: synthesis runs ~12-15x faster than speech, so this keeps well ahead, while most of the
#: work waits until the (much faster) answer has finished generating
LEAD_S = 1.5


class Speaker:
    """One answer's speech: feed it text, then ``finish`` (or ``stop`` to barge in)."""

    def __init__(
        self,
        voice: Voice | VoiceProcess,
        sink: Sink,
        rate: float = 1.0,
        clause_words: int = 12,
        close_sink: bool = False,
        lead_s: float = LEAD_S,
    ) -> None:
        """``close_sink``: the worker closes the sink when it is done, so that closing an
        output device (tens of milliseconds in PortAudio) never lands on the caller's
        thread. ``lead_s``: how much speech may still be queued when the next sentence's
        synthesis starts (just in time, so that it competes less with generation)."""
        self.voice, self.sink, self.rate = voice, sink, rate
        self.lead_s = lead_s
        self.close_sink = close_sink
        self._splitter = SentenceSplitter(clause_words)
        self._sentences: queue.Queue = queue.Queue()
        self._stopped = threading.Event()
        self._output = threading.Lock()  # a write never lands after a stop's silence
        #: (sentence, seconds from the first ``feed`` to its first sample queued) in order
        self.spoken: list[tuple[str, float]] = []
        self.first_sound_at: float | None = None
        self._started_at: float | None = None
        self.error: BaseException | None = None
        self._worker = threading.Thread(target=self._run, name="ptt-speaker")
        self._worker.start()

    def feed(self, text: str) -> None:
        if self._started_at is None:
            self._started_at = time.perf_counter()
        if not self._stopped.is_set():
            for sentence in self._splitter.feed(text):
                self._sentences.put(sentence)

    def finish(self) -> None:
        """The answer is complete: speak what is left of it."""
        if not self._stopped.is_set():
            for sentence in self._splitter.flush():
                self._sentences.put(sentence)
        self._sentences.put(_END)

    def stop(self) -> None:
        """Barge-in: silence now, drop the rest of this answer."""
        self._stopped.set()
        with self._output:
            self.sink.silence()
        self.voice.cancel(self)  # the worker stops waiting for the sentence under way
        self._sentences.put(_END)

    def wait(self, timeout: float | None = None) -> bool:
        """Until everything was spoken (or stopped); True when the worker is done."""
        self._worker.join(timeout)
        return not self._worker.is_alive()

    @property
    def first_sound_delay_s(self) -> float | None:
        """From the first text fed to the first audio handed to the output."""
        if self.first_sound_at is None or self._started_at is None:
            return None
        return self.first_sound_at - self._started_at

    @property
    def speaking(self) -> bool:
        return self._worker.is_alive()

    def _room_for(self) -> bool:
        """Wait until the speech still queued is down to ``lead_s``; False on a stop."""
        while (ahead := self.sink.pending_s() - self.lead_s) > 0:
            if self._stopped.wait(min(ahead, 0.25)):
                return False
        return not self._stopped.is_set()

    def _run(self) -> None:
        try:
            while (sentence := self._sentences.get()) is not _END:
                if not self._room_for():
                    return
                for samples in self.voice.synthesize(sentence, self.rate, tag=self):
                    with self._output:
                        if self._stopped.is_set():
                            return
                        self.sink.write(samples)
                    if self.first_sound_at is None:
                        self.first_sound_at = time.perf_counter()
                if self._stopped.is_set():  # cancelled while it was being synthesised
                    return
                self.spoken.append(
                    (sentence, time.perf_counter() - (self._started_at or 0.0))
                )
            self.sink.drain()
        except Exception as exc:  # noqa: BLE001 - kept for the owner; text answers go on
            if (
                not self._stopped.is_set()
            ):  # after a stop, nothing more was wanted anyway
                self.error = exc
                log.warning("speech stopped: %s", exc)
        finally:
            if self.close_sink:
                self.sink.close()
