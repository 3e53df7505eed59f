"""Wires push-to-talk, capture, the engine and the window together.

One clip's way through: key down -> ``on_press`` (barge-in if an answer is streaming, start
keeping blocks) -> key up -> ``on_release`` (take the clip) -> ``_answer`` (consume the
engine's stream on the Qt event loop through qasync, growing the answer bubble chunk by
chunk) -> badges. Nothing heavy runs here: the model is in the engine's threads, audio in
PortAudio's. The other jobs are in parts this connects: the model (``ModelSwitcher``), the
devices (``DevicePickers``), the keys (``KeySettings``) and the export (``export``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal

from core import StreamingEngine
from core.models.packaged import cache_dir
from desktop_app import audio_io, export
from desktop_app.audio_io import Recorder
from desktop_app.device_pickers import DevicePickers
from desktop_app.dictation.dictation import Dictation
from desktop_app.export import TurnRecord
from desktop_app.history.conversation_history import (
    ConversationHistory,
    memory_of,
    show_turns,
)
from desktop_app.history.history_dialog import HistoryDialog
from desktop_app.keys.key_settings import KeySettings
from desktop_app.keys.push_to_talk import PushToTalk
from desktop_app.keys.system_wide_key import SystemWideKey
from desktop_app.language_picker import LanguagePicker
from desktop_app.main_window import MainWindow
from desktop_app.model_picker import ModelPicker
from desktop_app.model_switcher import EngineUsers, ModelState, ModelSwitcher
from desktop_app.speech_output import SpeechOutput
from desktop_app.tray import Tray
from desktop_app.widgets.chat_view import AnswerBubble, UserBubble

log = logging.getLogger(__name__)


# A pause this long while recording lets the engine recognise what was said so far, so that
# a release after the last word finds the work done (the pause itself is not the end: only
# the key decides that).
PAUSE_S = 0.2

# Warn this long before a recording reaches audio.max_clip_s (a third of it, for short limits).
LIMIT_WARNING_S = 5.0


def badges_for(final: dict[str, Any]) -> list[str]:
    """The timing badges of a finished answer, with per-stage times when reported."""
    badges = [
        f"first chunk {final['ttfc_ms']:.0f} ms",
        f"total {final['total_ms']:.0f} ms",
    ]
    timings = final.get("timings") or {}
    if timings.get("asked"):  # the reply asks what was meant: nothing was generated
        badges.append(f"asked, not answered: {timings.get('doubt')}")
    else:
        badges.append(f"{final['tokens_per_s']:.1f} tok/s")
    if final.get("reached_max_new_tokens"):
        badges.append(f"cut at {final['generated_tokens']} tokens (max_new_tokens)")
    if timings.get("recognised_while_recording"):
        badges.append("heard while you spoke")  # "recognition 0 ms" read as a fault
    elif timings.get("recognition_ms") is not None:
        badges.append(f"recognition {timings['recognition_ms']:.0f} ms")
    return badges


class Controller(QObject):
    turn_finished = Signal(object)  # the TurnRecord, once a turn has ended in any way

    def __init__(
        self,
        window: MainWindow,
        engine: StreamingEngine,
        recorder: Recorder,
        push_to_talk: PushToTalk,
        settings: QSettings,
        hotkey: SystemWideKey | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.recorder = recorder
        self.ptt = push_to_talk
        self.settings = settings
        self.closing = False
        self.turns: list[TurnRecord] = []
        self._quiet_noted = (
            False  # the quiet-microphone note shown, until a normal clip
        )
        self.pending: tuple[np.ndarray, int] | None = None
        #: the latest turn and preview, which a model switch stops and waits for
        self.users = EngineUsers()
        self._quiet_s = 0.0
        self._speech_since_preview = False

        push_to_talk.pressed.connect(self.on_press)
        push_to_talk.released.connect(self.on_release)
        window.talk_button.pressed.connect(push_to_talk.press)
        window.talk_button.released.connect(push_to_talk.release)
        recorder.level_changed.connect(window.meter.set_level)
        recorder.level_changed.connect(self._follow_speech)
        recorder.failed.connect(self.on_device_failed)
        recorder.limit_reached.connect(self.on_limit_reached)
        self._recording_timer = QTimer(self)
        self._recording_timer.setInterval(200)
        self._recording_timer.timeout.connect(self._show_recording)

        self.keys = KeySettings(push_to_talk, settings, hotkey, parent=self)
        self.keys.note.connect(window.chat.add_note)
        self.keys.hint_changed.connect(window.set_key_hint)
        window.key_button.clicked.connect(self.key_dialog)
        self.keys.show_key()

        self.picker = ModelPicker(window.model_box, engine.config, self)
        self.models = ModelSwitcher(
            engine,
            settings,
            self.users,
            label_of=self.picker.label_of,
            parent=self,
        )
        self.picker.chosen.connect(self.models.choose_model)
        self.models.switching.connect(self.picker.select)
        self.models.progress.connect(self._show_progress)
        self.models.status.connect(self._show_status)
        self.models.note.connect(window.chat.add_note)
        self.models.can_retry.connect(window.retry_button.setVisible)
        self.models.can_cancel.connect(window.cancel_button.setVisible)
        self.models.stopping.connect(self.barge_in)
        self.languages = LanguagePicker(
            window.language_box,
            settings,
            engine.config.embedded.language,
            self,
            among=engine.config.embedded.auto_languages,
        )
        self.languages.note.connect(window.chat.add_note)
        self.models.ready.connect(self._apply_language)
        self.models.ready.connect(self._model_ready)
        window.retry_button.clicked.connect(self.models.start_loading)
        window.cancel_button.clicked.connect(self.models.cancel_loading)

        config = engine.config
        self.speech = SpeechOutput(config.speech, cache_dir(config.embedded))
        self.speech.note.connect(window.chat.add_note)
        self.speech.speaking_changed.connect(self._show_speaking)
        window.stop_button.clicked.connect(self.stop_answer)
        self.devices = DevicePickers(window, recorder, self.speech, settings, self)
        self.devices.note.connect(window.chat.add_note)

        self.tray = Tray(window, settings, self)
        self.history = ConversationHistory(engine.config.history, self)
        self.history.note.connect(window.chat.add_note)
        self.history.current_forgotten.connect(self._forgotten)
        window.history_button.clicked.connect(self.history_dialog)
        window.new_button.clicked.connect(self.new_conversation)
        window.ask_field.returnPressed.connect(self._send_typed)
        window.export_button.clicked.connect(self.export_dialog)
        window.mode_box.currentIndexChanged.connect(self._remember_mode)
        self.dictation = Dictation(engine.config.dictation, parent=self)
        window.undo_button.clicked.connect(self.undo_dictation)
        window.mode_box.currentIndexChanged.connect(self._show_mode)
        self._restore()

    # -- the parts, under the names the app and the tests use --------------------------------

    @property
    def engine(self) -> StreamingEngine:
        """The current engine: a switch replaces it."""
        return self.models.engine

    @property
    def state(self) -> ModelState:
        return self.models.state

    @state.setter
    def state(self, state: ModelState) -> None:
        self.models.state = state

    @property
    def load_error(self) -> str | None:
        return self.models.load_error

    @property
    def freeze_after_load(self) -> bool:
        return self.models.freeze_after_load

    @freeze_after_load.setter
    def freeze_after_load(self, freeze: bool) -> None:
        self.models.freeze_after_load = freeze

    @property
    def hotkey(self) -> SystemWideKey:
        return self.keys.hotkey

    @property
    def _turn_task(self) -> asyncio.Task | None:
        return self.users.turn

    def start_loading(self) -> None:
        self.models.start_loading()

    def choose_model(self, model_id: str, picked: bool = True) -> None:
        self.models.choose_model(model_id, picked)

    def set_push_to_talk_key(self, name: str) -> bool:
        return self.keys.set_push_to_talk_key(name)

    def set_system_wide(self, enabled: bool, *, remember_failure: bool = True) -> bool:
        return self.keys.set_system_wide(enabled, remember_failure=remember_failure)

    def apply_key_choice(self, name: str, system_wide: bool) -> None:
        self.keys.apply_key_choice(name, system_wide)

    def key_dialog(self) -> None:
        self.keys.key_dialog(self.window)

    def set_speech(self, enabled: bool) -> None:
        self.devices.set_speech(enabled)

    # -- start-up ----------------------------------------------------------------------------

    def _restore(self) -> None:
        mode = self.settings.value("ui/mode", "conversation")
        index = self.window.mode_box.findData(mode)
        self.window.mode_box.setCurrentIndex(max(index, 0))
        geometry = self.settings.value("ui/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)

    @property
    def mode(self) -> str:
        return self.window.mode_box.currentData()

    def start(self) -> None:
        """Open the microphone and start loading the model; the window is already usable."""
        self.tray.start()
        self.history.open()
        latest = self.history.latest()
        if latest is not None:
            self.reopen(latest)
        self.devices.start()
        self.keys.restore()
        self.picker.fill(self.engine.config.model.id)
        self.models.start_loading()

    # -- the model's reports -----------------------------------------------------------------

    def _show_status(self, text: str, busy: bool, warning: bool) -> None:
        self.window.set_status(text, busy=busy, warning=warning)

    def _show_progress(self, message: str, fraction: float | None) -> None:
        if self.state is ModelState.LOADING:
            self.window.set_status(f"{message}…", busy=True, fraction=fraction)

    def _apply_language(self) -> None:
        self.languages.apply(self.engine)

    def _model_ready(self) -> None:
        if self.speech.enabled:
            asyncio.ensure_future(self.speech.prepare())
        if self.pending is not None:
            clip, rate = self.pending
            self.pending = None
            self._start_turn(clip, rate)

    # -- spoken answers ----------------------------------------------------------------------

    def stop_answer(self) -> None:
        """Stop: the streaming answer and its speech, without starting a recording."""
        self.barge_in()

    def _show_speaking(self, answer: AnswerBubble | None, speaking: bool) -> None:
        if answer is not None:
            answer.set_speaking(speaking)
            if speaking:
                log.info("speaking the answer")
        self._update_stop()

    def _update_stop(self) -> None:
        turn = self.users.turn
        answering = turn is not None and not turn.done()
        self.window.stop_button.setEnabled(answering or self.speech.speaker is not None)
        self._show_activity()

    def _show_activity(self) -> None:
        """The tray icon's state: listening, answering or idle."""
        turn = self.users.turn
        if self.recorder.is_recording:
            self.tray.set_state("listening")
        elif turn is not None and not turn.done():
            self.tray.set_state("answering")
        else:
            self.tray.set_state("idle")

    # -- push-to-talk ------------------------------------------------------------------------

    def on_press(self) -> None:
        if self.closing:
            return
        self.barge_in()
        if not self.recorder.is_open and not self.recorder.open(self.recorder.device):
            return  # `failed` already put the reason in the chat
        self.recorder.start_recording(self.max_clip_s)
        self._quiet_s, self._speech_since_preview = 0.0, False
        self.window.talk_button.setDown(True)
        log.info("recording started")
        self._show_activity()
        self._recording_timer.start()
        self._show_recording()
        self.window.chat.prepare_turn()  # while the machine is idle

    @property
    def max_clip_s(self) -> float:
        return self.engine.config.audio.max_clip_s

    def _show_recording(self) -> None:
        if not self.recorder.is_recording:
            return
        left = self.max_clip_s - self.recorder.recorded_s
        release = f"release {self.ptt.key_name} to send"
        if left > min(LIMIT_WARNING_S, self.max_clip_s / 3):
            self.window.set_status(f"Recording… {release}")
            return
        if not self.window.status.property("warning"):
            log.info("recording limit near: %.1f s left", left)
        self.window.set_status(
            f"Recording stops in {max(left, 0):.0f} s (limit {self.max_clip_s:g} s): "
            f"{release}",
            warning=True,
        )

    def _follow_speech(self, level_dbfs: float) -> None:
        """At each pause in speech while recording, preview the clip so far."""
        if (
            not self.recorder.is_recording
            or self.state is not ModelState.READY
            or self.mode != "conversation"
        ):
            return
        if level_dbfs > self.engine.config.audio.silence_threshold_dbfs:
            self._quiet_s, self._speech_since_preview = 0.0, True
            return
        self._quiet_s += self.recorder.block_s
        if self._speech_since_preview and self._quiet_s >= PAUSE_S:
            self._speech_since_preview = False
            clip = self.recorder.snapshot()
            self.users.preview = asyncio.ensure_future(
                self.engine.preview(clip, sample_rate=self.recorder.stream_rate)
            )

    def on_device_failed(self, message: str) -> None:
        log.warning("microphone: %s", message)
        if self.recorder.is_recording:
            self.recorder.stop_recording()
            self._recording_timer.stop()
            message += " The recording was stopped."
        self.window.chat.add_note(message)

    def on_limit_reached(self, serial: int) -> None:
        """The recording is as long as a clip may be: answer what there is."""
        if self.closing or serial != self.recorder.serial:
            return  # a late signal from an earlier recording
        self.window.chat.add_note(
            f"Recording stopped at the {self.max_clip_s:g} s limit (audio.max_clip_s); "
            "answering what was recorded."
        )
        self._send_recording()

    def on_release(self) -> None:
        self.window.talk_button.setDown(False)
        if self.closing or not self.recorder.is_recording:
            return
        self._send_recording()

    def _send_recording(self) -> None:
        self._recording_timer.stop()
        clip = self.recorder.stop_recording()
        # the tray's state once the turn is under way (dropped if the app is gone)
        QTimer.singleShot(0, self, self._show_activity)
        rate = self.recorder.stream_rate
        log.info(
            "recording ended: %.2f s (key auto-repeat: %d flagged by Qt, %d caught)",
            len(clip) / rate if rate else 0.0,
            self.ptt.repeats_flagged,
            self.ptt.repeats_caught,
        )
        self.models.report_state()
        if self.state is ModelState.READY:
            self._start_turn(clip, rate)
        elif self.state is ModelState.LOADING:
            self.pending = (clip, rate)
            self.window.chat.add_note(
                "The model is still loading; this clip will be answered as soon as it is ready."
            )
        else:
            self.window.chat.add_note(
                f"The model could not be loaded ({self.load_error}). Use Retry below."
            )

    def barge_in(self) -> None:
        """Stop a streaming answer: the engine stops within one decoding step, and its
        speech falls silent at once."""
        self.speech.stop()
        if self.users.turn is not None and not self.users.turn.done():
            self.users.turn.cancel()

    # -- one turn ----------------------------------------------------------------------------

    def _start_turn(self, clip: np.ndarray, rate: int) -> None:
        """Answer a recording, in the window's mode."""
        duration = len(clip) / rate if rate else 0.0
        self._start(TurnRecord(mode=self.mode, clip_s=round(duration, 2)), clip, rate)

    def _start(self, turn: TurnRecord, clip: np.ndarray | None, rate: int) -> None:
        """Answer ``turn``: its clip, or with ``clip`` None its typed words (``heard``)."""
        self.users.turn = asyncio.ensure_future(self._answer(turn, clip, rate))

    async def _answer(
        self, turn: TurnRecord, clip: np.ndarray | None, rate: int
    ) -> None:
        try:
            answer = await self._run_turn(clip, rate, turn)
            if turn.retryable:  # nothing is lost: the clip or words stay, with Retry
                answer.offer_retry(lambda: self.retry(answer, turn, clip, rate))
            if turn.mode == "dictate" and not turn.interrupted:
                if turn.answer and turn.note is None:  # a transcript, not an error
                    said = await self.dictation.deliver(turn.answer)
                    self.window.chat.add_note(said)
                self.window.undo_button.setEnabled(self.dictation.can_undo)
        finally:
            self.history.record(turn, clip, rate)
            self.turn_finished.emit(turn)

    def retry(
        self,
        answer: AnswerBubble,
        turn: TurnRecord,
        clip: np.ndarray | None,
        rate: int,
    ) -> bool:
        """Ask a failed turn again, with the model chosen now; False (and a note) while
        none is ready."""
        if not self._ready_for("Retry"):
            return False
        answer.retried()
        self.barge_in()
        log.info("retrying a turn that failed with %s", turn.error)
        again = TurnRecord(mode=turn.mode, clip_s=turn.clip_s, typed=turn.typed)
        if turn.typed:
            again.heard = turn.heard
        self._start(again, clip, rate)
        return True

    def ask_typed(self, text: str) -> bool:
        """A typed question (the field under the chat), answered like a spoken one in
        conversation; False, with a note, while no model can answer it."""
        text = text.strip()
        if self.closing or not text:
            return False
        if not self._ready_for("ask again"):
            return False
        self.barge_in()
        self._start(TurnRecord("conversation", 0.0, heard=text, typed=True), None, 0)
        self._show_activity()
        return True

    def _ready_for(self, what: str) -> bool:
        """Whether a model can answer now; if not, a note says why and what to do."""
        if self.state is ModelState.READY:
            return True
        self.window.chat.add_note(
            f"The model is still loading: {what} once it is ready."
            if self.state is ModelState.LOADING
            else f"The model could not be loaded ({self.load_error}). Use Retry below."
        )
        return False

    def _send_typed(self) -> None:
        if self.ask_typed(self.window.ask_field.text()):
            self.window.ask_field.clear()

    async def _run_turn(
        self, clip: np.ndarray | None, rate: int, turn: TurnRecord
    ) -> AnswerBubble:
        """One turn in the chat: a clip, or a typed question (``clip`` None, the words in
        ``turn.heard``), streamed into its answer bubble, which is returned."""
        mode = turn.mode
        user = self.window.chat.add_user(turn.clip_s)
        if clip is None:
            user.show_typed(turn.heard or "")
        else:
            user.play_requested.connect(lambda: self._play(clip, rate))
            if self.engine.reports_heard(mode):
                user.expect_heard()
        # The answer's place is taken now, so a barge-in's next turn always comes after it.
        answer = self.window.chat.add_answer()
        self.turns.append(turn)
        self.window.set_status("Answering…")
        self.window.stop_button.setEnabled(True)
        speaker = None
        try:
            self.window.draw_now()  # before the clip goes to the model
            if mode == "conversation":
                speaker = await self.speech.start(answer)
            # dictation is a transcript, typed elsewhere once it is complete
            engine_mode = "transcribe" if mode == "dictate" else mode
            if clip is None:
                stream = self.engine.process_text_streaming(turn.heard, len(self.turns))
            else:
                stream = self.engine.process_realtime_chunk_streaming(
                    clip, len(self.turns), engine_mode, sample_rate=rate
                )
            async with contextlib.aclosing(stream):
                async for item in stream:
                    self._show_item(item, user, answer, turn)
                    if speaker is not None and item["text"]:
                        speaker.feed(item["text"] + " ")
        except asyncio.CancelledError:
            turn.interrupted = True
            answer.mark_interrupted()
            if answer.note is not None:  # stopped before its first word: said, exported
                turn.note = answer.note
            if speaker is not None:
                speaker.stop()
        finally:
            if turn.heard is None:
                user.drop_expected_heard()
            if speaker is not None:
                speaker.finish()  # the rest of the answer; nothing after a stop
            self.models.report_state()
            QTimer.singleShot(0, self._update_stop)
        return answer

    def _show_item(
        self,
        item: dict[str, Any],
        user: UserBubble,
        answer: AnswerBubble,
        turn: TurnRecord,
    ) -> None:
        if item.get("heard") and turn.heard is None:
            turn.heard = item["heard"]
            log.debug("heard: %s", item["heard"])
            user.set_heard(item["heard"])
        if not item["success"]:
            note = item["message"]
            if item["error"] == "generation_failed":  # the message alone says nothing
                note = f"{note} ({item['detail']})"
            turn.note, turn.error = note, item["error"]
            answer.show_note(note)
            return
        if item["text"]:
            answer.append(item["text"])
            turn.answer = answer.text
        if item["is_final"]:
            if not answer.chunks:
                answer.show_note("(the model gave no answer)")
            turn.badges = badges_for(item)
            answer.set_badges(turn.badges)
            log.debug("answered: %s", turn.answer)
            self._note_a_quiet_microphone(item.get("timings") or {})
            turn.figures = {
                "ttfc_ms": item["ttfc_ms"],
                "total_ms": item["total_ms"],
                "tokens_per_s": item["tokens_per_s"],
            }

    def _note_a_quiet_microphone(self, timings: dict[str, Any]) -> None:
        """Once, until a clip comes at a normal level again: speech this quiet is heard,
        but a higher input gain keeps it from being lost under any noise."""
        quiet = timings.get("quiet_input_dbfs")
        if quiet is None:
            self._quiet_noted = False
        elif not self._quiet_noted:
            self._quiet_noted = True
            self.window.chat.add_note(
                f"Your microphone is very quiet (loudest {quiet:.0f} dBFS). You were "
                "heard, but raising its input gain in the system's sound settings makes "
                "it more reliable."
            )

    def _play(self, clip: np.ndarray, rate: int) -> None:
        try:
            audio_io.play(clip, rate, self.recorder.backend)
        except Exception as exc:  # noqa: BLE001 - no output device is a note, not a crash
            self.window.chat.add_note(f"Could not play the clip: {exc}")

    # -- conversation controls ---------------------------------------------------------------

    def _remember_mode(self) -> None:
        self.settings.setValue("ui/mode", self.mode)

    def _show_mode(self) -> None:
        dictating = self.mode == "dictate"
        self.window.undo_button.setVisible(dictating)
        if dictating:
            self.window.chat.add_note(
                "Dictate: hold the key in any window and speak; what you said is typed "
                f"there ({self.dictation.found}). Turn on Also when another window has "
                "focus under Change…, or bind ptt-assistant --toggle to a key."
            )

    def remote_command(self, command: str) -> str:
        """A command from ``ptt-assistant --toggle`` and friends (``desktop_app.remote``)."""
        recording = self.recorder.is_recording
        if command == "toggle":
            command = "stop" if recording else "start"
        if command == "start":
            if recording:
                return "already recording"
            self.on_press()
            return "recording" if self.recorder.is_recording else "could not record"
        if command == "stop":
            if not recording:
                return "not recording"
            self.on_release()
            return "sent"
        if command == "undo":
            self.undo_dictation()
            return "undoing the last dictation"
        if command == "show":
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()
            return "shown"
        return f"unknown command {command!r}: toggle, start, stop, undo or show"

    def undo_dictation(self) -> None:
        asyncio.ensure_future(self._undo())

    async def _undo(self) -> None:
        self.window.chat.add_note(await self.dictation.undo())
        self.window.undo_button.setEnabled(self.dictation.can_undo)

    def new_conversation(self) -> None:
        self.barge_in()
        self.engine.clear_history()
        self.history.new_conversation()
        self.turns = []
        self.window.chat.clear()

    def reopen(self, conversation_id: str) -> None:
        """A stored conversation in the chat again, remembered by the assistant; the next
        turns join it."""
        self.barge_in()
        stored = self.history.load(conversation_id)
        self.window.chat.clear()
        show_turns(self.window.chat, stored, self._play, self.retry)
        self.turns = [turn.record for turn in stored]
        config = self.engine.config
        self.engine.restore_history(memory_of(stored, config.audio.sample_rate))
        log.info("reopened a conversation of %d turns", len(stored))

    def history_dialog(self) -> HistoryDialog | None:
        """History…: shown without blocking; None (and a note) when there is no history."""
        if self.history.store is None:
            self.window.chat.add_note(
                "No history is kept in this session (history.enabled in config.yaml, "
                "or the note above says why)."
            )
            return None
        dialog = HistoryDialog(self.history, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.chosen.connect(self.reopen)
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()  # typing goes to its search field at once
        dialog.search.setFocus()
        return dialog

    def _forgotten(self) -> None:
        """The conversation in the chat was deleted: the chat and the memory go with it."""
        self.barge_in()
        self.engine.clear_history()
        self.turns = []
        self.window.chat.clear()

    def export_to(self, path: Path) -> None:
        export.write(self.turns, path)

    def export_dialog(self) -> None:
        note = export.export_dialog(self.turns, self.window)
        if note is not None:
            self.window.chat.add_note(note)

    async def shutdown(self) -> None:
        self.closing = True
        self.keys.stop()
        self.settings.setValue("ui/geometry", self.window.saveGeometry())
        self.barge_in()
        self.models.stop()
        self.picker.cancel_checks()
        await self.models.wind_down()
        for task in (self.users.turn, self.users.preview):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self.speech.close()
        self.tray.stop()
        self.history.close()
        self.recorder.close()
        self.ptt.close()
        await self.engine.close()
