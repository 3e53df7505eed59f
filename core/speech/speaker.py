"""Speaking an answer while it streams: each finished sentence is synthesised (by a
:class:`~core.speech.voice_process.VoiceProcess` in its own process, or a :class:`~core.speech.voice.Voice`
in this one) for a worker thread and played in order while later text is still being
generated.

``Speaker.feed`` takes the answer's text as it arrives (from any thread, or the event loop);
``finish`` says the answer is complete; ``stop`` is barge-in: the output falls silent within
a few tens of milliseconds, queued sentences are dropped, and nothing more of this answer is
heard. Synthesis and playback never run on the caller's thread.

Where the sound goes is a sink (``core.speech.sinks``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

import soundfile as sf

from core.config import SpeechSettings
from core.speech.sentences import SentenceSplitter
from core.speech.sinks import DeviceSink, Sink, WavSink
from core.speech.voice import Voice, VoiceError
from core.speech.voice_process import VoiceProcess

log = logging.getLogger(__name__)

_END = object()


#: a sentence is synthesised once less than this much speech is left to play before it:
#: synthesis runs many times faster than speech, so this keeps well ahead, while most of the
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


def speaker_for(
    voice: Voice | VoiceProcess,
    settings: SpeechSettings,
    *,
    to_file: Path | None = None,
    device: int | str | None = None,
    backend: Any = None,
    close_sink: bool = False,
) -> Speaker:
    """A speaker for the configured ``speech`` settings, heard on an output device (the
    system default, or ``device``) or written ``to_file`` (WAV or FLAC).

    Raises :class:`~core.speech.sinks.SpeechOutputError` when no device can play, and
    :class:`~core.speech.voice.VoiceError` when the file cannot be written."""
    if to_file is not None:
        try:
            sink: Sink = WavSink(to_file, voice.sample_rate)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise VoiceError(f"cannot write {to_file}: {exc}") from None
    else:
        sink = DeviceSink(voice.sample_rate, device=device, backend=backend)
    try:
        return Speaker(
            voice, sink, settings.rate, settings.clause_words, close_sink=close_sink
        )
    except BaseException:
        if isinstance(sink, WavSink):
            sink.discard()
        else:
            sink.close()
        raise
