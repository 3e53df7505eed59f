"""The window's spoken answers: the voice (started off the GUI thread when speech is first
wanted, then kept for every answer), the output device, and the speaker of the answer being
read.

Synthesis runs in the voice's own process (so it never takes the GIL from the event loop or
the chat model), playback in PortAudio's callback thread; the GUI thread only hands over text
and polls, every 100 ms, whether the answer is still being read.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from core.config import SpeechSettings
from core.speech.sinks import SpeechOutputError
from core.speech.speaker import Speaker, speaker_for
from core.speech.voice import VoiceError, voice_file
from core.speech.voice_process import VoiceProcess
from desktop_app.audio_io import devices_with

log = logging.getLogger(__name__)


class SpeechOutput(QObject):
    #: (the answer's owner given to ``start``, whether it is being read)
    speaking_changed = Signal(object, bool)
    #: something the user should know (no output device, an unusable voice)
    note = Signal(str)

    def __init__(
        self, settings: SpeechSettings, cache_dir: Path, backend: Any = None
    ) -> None:
        super().__init__()
        self.settings = settings
        self.cache_dir = cache_dir
        self.backend = backend  # sounddevice, or the tests' stand-in for the sound card
        self.enabled = settings.enabled
        self.device: int | None = None  # None: the system default
        self.voice: VoiceProcess | None = None
        self.speaker: Speaker | None = None
        self._owner: Any = None
        self._retiring: list[
            tuple[Speaker, Any]
        ] = []  # stopped, worker still winding down
        self._loading: asyncio.Future | None = None
        self._failed = False  # the voice could not be loaded: said once
        self._heard = False  # the current answer's first sound is out
        self._poll = QTimer(self)
        self._poll.setInterval(100)
        self._poll.timeout.connect(self._check_done)

    def output_devices(self) -> list[tuple[int, str]]:
        return devices_with(self.backend, "max_output_channels")

    async def prepare(self) -> VoiceProcess | None:
        """Start the voice's process from a worker thread (once); None when it cannot be
        used."""
        if self.voice is not None or self._failed:
            return self.voice
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load_voice))
        try:
            self.voice = await asyncio.shield(self._loading)
        except VoiceError as exc:
            self._failed = True
            self.note.emit(f"Answers can't be spoken: {exc}")
        return self.voice

    def _load_voice(self) -> VoiceProcess:
        return VoiceProcess(voice_file(self.settings.voice, self.cache_dir))

    async def start(self, owner: Any = None) -> Speaker | None:
        """A speaker for the answer about to stream, when speech is on and can be heard.
        Stops whatever is still being read. ``owner`` (the answer's bubble) comes back with
        ``speaking_changed``. The output stream is opened, and the speaker's thread
        started, off the GUI thread: either can take tens of milliseconds."""
        self.stop()
        if not self.enabled or await self.prepare() is None:
            return None
        opening = asyncio.ensure_future(asyncio.to_thread(self._open, self.voice))
        try:
            speaker = await asyncio.shield(opening)
        except asyncio.CancelledError:
            # the turn was cancelled meanwhile: the speaker, once open, is let go at once
            opening.add_done_callback(_stop_opened)
            raise
        except SpeechOutputError as exc:
            self.note.emit(f"{exc}. The answer is shown but not spoken.")
            return None
        self.speaker, self._owner = speaker, owner
        self._poll.start()  # "speaking…" is shown once the first sound is out
        return self.speaker

    def _open(self, voice: VoiceProcess) -> Speaker:
        return speaker_for(
            voice,
            self.settings,
            device=self.device,
            backend=self.backend,
            close_sink=True,
        )

    def stop(self) -> None:
        """Barge-in, Stop, or a new answer: silence now, drop what was left to say."""
        if self.speaker is not None:
            self.speaker.stop()
            self._retire()

    def _retire(self) -> None:
        owner, self._heard = self._owner, False
        self._retiring.append((self.speaker, owner))
        self.speaker = self._owner = None
        self.speaking_changed.emit(owner, False)

    def _check_done(self) -> None:
        """Say when the answer is first heard, and close the output of every speaker whose
        worker has finished."""
        speaker = self.speaker
        if (
            speaker is not None
            and speaker.first_sound_at is not None
            and not self._heard
        ):
            self._heard = True
            self.speaking_changed.emit(self._owner, True)
        if speaker is not None and not speaker.speaking:
            self._retire()
        for speaker, owner in list(self._retiring):
            if speaker.speaking:
                continue
            self._retiring.remove((speaker, owner))  # its worker closed the output
            if speaker.error is not None:
                self.note.emit(f"Speaking stopped: {speaker.error}")
        if self.speaker is None and not self._retiring:
            self._poll.stop()

    def close(self) -> None:
        """Silence, then end the voice's process (one still starting ends once started)."""
        self.stop()
        for speaker, _owner in self._retiring:
            speaker.wait(5)
        self._check_done()
        loading, self._loading = self._loading, None
        if self.voice is not None:
            self.voice.close()
            self.voice = None
        elif loading is not None:  # still starting: it ends as soon as it has started
            loading.add_done_callback(_close_loaded)


def _close_loaded(loading: asyncio.Future) -> None:
    if not loading.cancelled() and loading.exception() is None:
        loading.result().close()


def _stop_opened(opening: asyncio.Future) -> None:
    if not opening.cancelled() and opening.exception() is None:
        speaker = opening.result()
        speaker.stop()  # its worker ends and closes the output stream
