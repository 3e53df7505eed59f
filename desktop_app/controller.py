"""Wires push-to-talk, capture, the engine and the window together.

One clip's way through: key down -> ``on_press`` (barge-in if an answer is streaming, start
keeping blocks) -> key up -> ``on_release`` (take the clip) -> ``_answer`` (consume the
engine's stream on the Qt event loop through qasync, growing the answer bubble chunk by chunk)
-> badges. Nothing heavy runs here: the model is in the engine's threads, audio in PortAudio's.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import threading
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QFileDialog

from core import StreamingEngine
from core.models.packaged import cache_dir
from desktop_app import audio_io
from desktop_app.audio_io import Recorder
from desktop_app.export import TurnRecord, to_json, to_markdown
from desktop_app.global_hotkey import (
    GlobalHotkey,
    HotkeyUnavailable,
    unavailable_reason,
)
from desktop_app.main_window import MainWindow
from desktop_app.model_picker import ModelPicker
from desktop_app.push_to_talk import PushToTalk
from desktop_app.speech_output import SpeechOutput
from desktop_app.widgets.chat_view import AnswerBubble, UserBubble
from desktop_app.widgets.key_dialog import KeyDialog

log = logging.getLogger(__name__)


# A pause this long while recording lets the engine recognise what was said so far, so that
# a release after the last word finds the work done (the pause itself is not the end: only
# the key decides that).
PAUSE_S = 0.2

# Warn this long before a recording reaches audio.max_clip_s (a third of it, for short limits).
LIMIT_WARNING_S = 5.0


def _give_memory_back(pipeline: object) -> None:
    """After ``pipeline`` is closed: what an audio model (torch) left in reference cycles is
    collected here, on the GUI thread, where Qt objects may be finalised, and a GPU's cached
    blocks go back. The embedded default and servers free everything in ``close()``, so
    for them there is no collection and no pause (one takes ~0.3 s)."""
    gc.unfreeze()  # what loading froze (Controller._load) may be garbage now
    if not getattr(pipeline, "collect_after_close", False):
        return
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


async def _unload(engine: StreamingEngine) -> None:
    """Close ``engine`` and give its memory back (a failure is logged: the next model loads
    regardless)."""
    pipeline = engine.pipeline if engine.is_initialized else None
    try:
        await engine.close()
    except Exception:
        log.exception("closing %s failed", engine.config.model.id)
    _give_memory_back(pipeline)


class LoadCancelled(Exception):
    """The user cancelled loading (a download keeps what it fetched, for next time)."""


class ModelState(Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


def badges_for(final: dict[str, Any]) -> list[str]:
    """The timing badges of a finished answer, with per-stage times when reported."""
    badges = [
        f"first chunk {final['ttfc_ms']:.0f} ms",
        f"total {final['total_ms']:.0f} ms",
        f"{final['tokens_per_s']:.1f} tok/s",
    ]
    if final.get("reached_max_new_tokens"):
        badges.append(f"cut at {final['generated_tokens']} tokens (max_new_tokens)")
    timings = final.get("timings") or {}
    if timings.get("recognised_while_recording"):
        badges.append("heard while you spoke")  # "recognition 0 ms" read as a fault
    elif timings.get("recognition_ms") is not None:
        badges.append(f"recognition {timings['recognition_ms']:.0f} ms")
    return badges


class Controller(QObject):
    progress = Signal(str, object)  # relayed from the engine's loading thread
    turn_finished = Signal(object)  # the TurnRecord, once a turn has ended in any way

    def __init__(
        self,
        window: MainWindow,
        engine: StreamingEngine,
        recorder: Recorder,
        push_to_talk: PushToTalk,
        settings: QSettings,
        hotkey: GlobalHotkey | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.engine = engine
        self.recorder = recorder
        self.ptt = push_to_talk
        self.settings = settings
        self.hotkey = hotkey or GlobalHotkey(parent=self)
        self.state = ModelState.LOADING
        self.closing = False
        self.load_error: str | None = None
        self.turns: list[TurnRecord] = []
        self.pending: tuple[np.ndarray, int] | None = None
        self._turn_task: asyncio.Task | None = None
        self._load_task: asyncio.Task | None = None
        self._answer: AnswerBubble | None = None
        self._turn: TurnRecord | None = None

        push_to_talk.pressed.connect(self.on_press)
        push_to_talk.released.connect(self.on_release)
        window.talk_button.pressed.connect(push_to_talk.press)
        window.talk_button.released.connect(push_to_talk.release)
        self.hotkey.pressed.connect(push_to_talk.press_system_wide)
        self.hotkey.released.connect(push_to_talk.release)
        self.hotkey.failed.connect(self._hotkey_lost)
        self._show_key()
        recorder.level_changed.connect(window.meter.set_level)
        recorder.level_changed.connect(self._follow_speech)
        self._quiet_s = 0.0
        self._speech_since_preview = False
        self._preview_task: asyncio.Task | None = None
        recorder.failed.connect(self.on_device_failed)
        recorder.limit_reached.connect(self.on_limit_reached)
        self._recording_timer = QTimer(self)
        self._recording_timer.setInterval(200)
        self._recording_timer.timeout.connect(self._show_recording)
        self.progress.connect(self._show_progress)
        window.retry_button.clicked.connect(self.start_loading)
        window.cancel_button.clicked.connect(self.cancel_loading)
        self._cancel_load = threading.Event()
        self.picker = ModelPicker(window.model_box, engine.config, self)
        self.picker.chosen.connect(self.choose_model)
        self._switch_task: asyncio.Task | None = None
        self._unloading: asyncio.Future | None = None  # the model a switch is closing
        #: the model loaded or being switched to
        self._target_id = engine.config.model.id
        #: whether that model was picked in the window (remembered once loaded)
        self._picked = False
        #: the model that answered before a switch, to go back to if the new one fails,
        #: and whether it had been picked in the window
        self._fallback_id: str | None = None
        self._picked_before = False
        #: leave what is loaded out of later garbage collections (the app sets it; see _load)
        self.freeze_after_load = False
        window.new_button.clicked.connect(self.new_conversation)
        window.export_button.clicked.connect(self.export_dialog)
        window.mode_box.currentIndexChanged.connect(self._remember_mode)
        window.device_box.activated.connect(self._pick_device)
        window.key_button.clicked.connect(self.key_dialog)
        config = engine.config
        self.speech = SpeechOutput(
            config.speech,
            cache_dir(config.embedded),
        )
        self.speech.note.connect(window.chat.add_note)
        self.speech.speaking_changed.connect(self._show_speaking)
        window.stop_button.clicked.connect(self.stop_answer)
        window.output_box.activated.connect(self._pick_output)
        self._restore()
        window.speak_button.toggled.connect(self.set_speech)

    # -- start-up ----------------------------------------------------------------------------

    def _restore(self) -> None:
        mode = self.settings.value("ui/mode", "conversation")
        index = self.window.mode_box.findData(mode)
        self.window.mode_box.setCurrentIndex(max(index, 0))
        geometry = self.settings.value("ui/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        speak = self.settings.value("speech/enabled", self.speech.enabled)
        self.speech.enabled = speak in (True, "true")
        self.window.speak_button.setChecked(self.speech.enabled)

    @property
    def mode(self) -> str:
        return self.window.mode_box.currentData()

    def start(self) -> None:
        """Open the microphone and start loading the model; the window is already usable."""
        self._fill_devices()
        wanted = self.settings.value("audio/device_name")
        device = next((i for i, name in self._devices if name == wanted), None)
        self.recorder.open(device)
        self._fill_outputs()
        if self.system_wide_wanted:
            # Unavailable this time (a Wayland session, say): say so, but keep the choice.
            self.set_system_wide(True, remember_failure=False)
        self.picker.fill(self.engine.config.model.id)
        self.start_loading()

    def start_loading(self) -> None:
        if self.closing or (self._load_task is not None and not self._load_task.done()):
            return
        self.state, self.load_error = ModelState.LOADING, None
        self._cancel_load.clear()
        self.window.retry_button.hide()
        self.window.cancel_button.show()
        self.window.set_status(f"Loading {self.engine.config.model.id}…", busy=True)
        self._load_task = asyncio.ensure_future(self._load())

    def _loading_progress(self, message: str, fraction: float | None) -> None:
        """Called on the loading thread (a download's, too): a cancel stops it here."""
        if self._cancel_load.is_set():
            raise LoadCancelled(message)
        self.progress.emit(message, fraction)

    def cancel_loading(self) -> None:
        """Stop a load at its next progress step (a download within a fraction of a second)."""
        self._cancel_load.set()
        self.window.set_status("Cancelling…", busy=True)

    async def _load(self) -> None:
        engine = self.engine
        name = engine.config.model.id
        try:
            await engine.initialize(self._loading_progress)
        except LoadCancelled:
            log.info("loading %s cancelled", name)
            self._fallback_id = None  # Retry then tries this model again, nothing else
            self.state, self.load_error = ModelState.FAILED, "cancelled"
            self.window.set_status(
                f"Loading {name} was cancelled; files already downloaded are kept. "
                "Retry, or pick another model."
            )
            self.window.retry_button.show()
            return
        except Exception as exc:
            log.exception("loading %s failed", name)
            self.state, self.load_error = ModelState.FAILED, str(exc)
            self.window.set_status(f"Could not load {name}: {exc}", warning=True)
            fallback, self._fallback_id = self._fallback_id, None
            back = (
                f" Back to {self.picker.label_of(fallback)}."
                # not when a newer pick is already on its way
                if fallback not in (None, name) and self._target_id == name
                else ""
            )
            # The whole reason, wrapped, where it is read: the status line shows its start.
            self.window.chat.add_note(
                f"Could not load {self.picker.label_of(name)}: {exc}{back}"
            )
            if back:  # a failed switch does not leave the window with no model
                self.choose_model(fallback, picked=False)
                return
            self.window.retry_button.show()
            return
        finally:
            self.window.cancel_button.hide()
        self.state, self._fallback_id = ModelState.READY, None
        if self.freeze_after_load:
            # Everything loaded so far (Qt's wrappers, the model's and libraries' objects:
            # ~290k with the embedded default) is left out of later cyclic collections. A
            # full one walked them all in ~120 ms, holding the GIL: the window froze for it,
            # at random, mid-answer. Unfrozen again when the model is unloaded.
            gc.freeze()
        problem = getattr(engine.pipeline, "problem", None)
        if self._picked and not problem:
            # Remembered once it has loaded (and, for a server, answered): a cancelled
            # download is not restarted at the next start, a server that was down is not
            # what the next start opens on, and --model stays a one-run choice.
            self.settings.setValue("model/id", name)
        log.info("window ready: %s", engine.pipeline.description)
        self._show_ready()
        if problem:
            self.window.chat.add_note(f"The server is not answering yet: {problem}")
        if self.speech.enabled:
            asyncio.ensure_future(self.speech.prepare())
        if self.pending is not None:
            clip, rate = self.pending
            self.pending = None
            self._start_turn(clip, rate)

    # -- switching models --------------------------------------------------------------------

    def choose_model(self, model_id: str, picked: bool = True) -> None:
        """Switch to ``model_id`` without a restart: the answer stops, the old model is
        unloaded (its memory given back), the new one loads in the background.
        ``picked=False``: not the user's choice (a fallback), so not remembered as one."""
        if self.closing or (
            model_id == self._target_id and self.state is not ModelState.FAILED
        ):
            return
        self._target_id = model_id
        if picked:
            self._picked_before, self._picked = self._picked, True
        else:  # back to what answered before: remembered only if it was picked itself
            self._picked = self._picked_before
        if self._switch_task is not None and not self._switch_task.done():
            self._switch_task.cancel()
        self._switch_task = asyncio.ensure_future(self._switch(model_id))

    async def _switch(self, model_id: str) -> None:
        # Loading from now on: a clip recorded meanwhile waits for the new model.
        self.state = ModelState.LOADING
        self.barge_in()
        self._cancel_load.set()
        busy = [
            task
            for task in (self._turn_task, self._preview_task, self._load_task)
            if task is not None and not task.done()
        ]
        for task in busy:
            task.cancel()
        if busy:
            await asyncio.wait(busy)  # never raises: this switch's own cancel still can
        if self._unloading is not None:
            await asyncio.shield(self._unloading)  # an earlier switch's unload
        old = self.engine
        # Only a model that answered is worth going back to (not one that failed itself).
        self._fallback_id = old.config.model.id if old.is_initialized else None
        config = old.config.model_copy(
            update={"model": old.config.model.model_copy(update={"id": model_id})}
        )
        self.engine = StreamingEngine(config)
        self.picker.select(model_id)
        self.window.set_status(f"Unloading {old.config.model.id}…", busy=True)
        old_id = old.config.model.id
        # A task of its own, shielded: a newer switch (or quitting) cancels this one but
        # waits for the unload, so two models are never in memory at once.
        self._unloading = asyncio.ensure_future(_unload(old))
        del old
        await asyncio.shield(self._unloading)
        log.info("switched from %s to %s", old_id, model_id)
        self.window.chat.add_note(
            f"Switching to {self.picker.label_of(model_id)} (a new conversation)"
        )
        self.start_loading()

    def _show_ready(self) -> None:
        if self.state is ModelState.READY:
            self.window.set_status(f"Ready · {self.engine.pipeline.description}")
        elif self.state is ModelState.LOADING:
            self.window.set_status(f"Loading {self.engine.config.model.id}…", busy=True)
        else:
            self.window.set_status(
                f"Could not load {self.engine.config.model.id}: {self.load_error}"
            )

    def _show_progress(self, message: str, fraction: float | None) -> None:
        if self.state is ModelState.LOADING:
            self.window.set_status(f"{message}…", busy=True, fraction=fraction)

    # -- microphone --------------------------------------------------------------------------

    def _fill_devices(self) -> None:
        self._devices = self.recorder.input_devices()
        box = self.window.device_box
        box.clear()
        box.addItem("System default", None)
        for index, name in self._devices:
            box.addItem(name, index)
        if not self._devices:
            box.setItemText(0, "No microphone found")

    def _pick_device(self, row: int) -> None:
        device = self.window.device_box.itemData(row)
        name = dict(self._devices).get(device)
        self.settings.setValue("audio/device_name", name)
        if self.recorder.open(device):
            self.window.chat.add_note(f"Microphone: {name or 'system default'}")

    # -- spoken answers ----------------------------------------------------------------------

    def _fill_outputs(self) -> None:
        try:
            self.speech.backend = self.recorder.backend
        except OSError:
            self.speech.backend = None  # no PortAudio: DeviceSink says so when asked
        self._outputs = self.speech.output_devices() if self.speech.backend else []
        box = self.window.output_box
        box.clear()
        box.addItem("System default", None)
        for index, name in self._outputs:
            box.addItem(name, index)
        if not self._outputs:
            box.setItemText(0, "No speaker found")
        wanted = self.settings.value("speech/device_name")
        for row in range(box.count()):
            if box.itemText(row) == wanted:
                box.setCurrentIndex(row)
                self.speech.device = box.itemData(row)

    def _pick_output(self, row: int) -> None:
        self.speech.device = self.window.output_box.itemData(row)
        self.settings.setValue(
            "speech/device_name",
            dict(self._outputs).get(self.speech.device),
        )

    def set_speech(self, enabled: bool) -> None:
        """The speaker toggle: remembered; turning it off silences the answer being read."""
        self.speech.enabled = enabled
        self.settings.setValue("speech/enabled", enabled)
        if enabled:
            asyncio.ensure_future(self.speech.prepare())
        else:
            self.speech.stop()

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
        answering = self._turn_task is not None and not self._turn_task.done()
        self.window.stop_button.setEnabled(answering or self.speech.speaker is not None)

    def on_device_failed(self, message: str) -> None:
        if self.recorder.is_recording:
            self.recorder.stop_recording()
            self._recording_timer.stop()
            message += " The recording was stopped."
        self.window.chat.add_note(message)

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
            self._preview_task = asyncio.ensure_future(
                self.engine.preview(clip, sample_rate=self.recorder.stream_rate)
            )

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
        rate = self.recorder.stream_rate
        log.info(
            "recording ended: %.2f s (key auto-repeat: %d flagged by Qt, %d caught)",
            len(clip) / rate if rate else 0.0,
            self.ptt.repeats_flagged,
            self.ptt.repeats_caught,
        )
        self._show_ready()
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
        if self._turn_task is not None and not self._turn_task.done():
            self._turn_task.cancel()

    # -- one turn ----------------------------------------------------------------------------

    def _start_turn(self, clip: np.ndarray, rate: int) -> None:
        self._turn_task = asyncio.ensure_future(
            self._answer_clip(clip, rate, self.mode)
        )

    async def _answer_clip(self, clip: np.ndarray, rate: int, mode: str) -> None:
        duration = len(clip) / rate if rate else 0.0
        user = self.window.chat.add_user(duration)
        user.play_requested.connect(lambda: self._play(clip, rate))
        if self.engine.reports_heard(mode):
            user.expect_heard()
        # The answer's place is taken now, so a barge-in's next turn always comes after it.
        answer = self.window.chat.add_answer()
        turn = TurnRecord(mode=mode, clip_s=round(duration, 2))
        self.turns.append(turn)
        self.window.set_status("Answering…")
        self.window.stop_button.setEnabled(True)
        speaker = None
        try:
            self.window.draw_now()  # before the clip goes to the model
            if mode == "conversation":
                speaker = await self.speech.start(answer)
            stream = self.engine.process_realtime_chunk_streaming(
                clip, len(self.turns), mode, sample_rate=rate
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
            self._show_ready()
            self.turn_finished.emit(turn)
            QTimer.singleShot(0, self._update_stop)

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
            turn.note = note
            answer.show_note(note)
            return
        if item["text"]:
            answer.append(item["text"])
            turn.answer = answer.text
        if item["is_final"]:
            if not answer.chunks:
                answer.show_note("(the model gave no answer)")
            answer.set_badges(badges_for(item))
            turn.figures = {
                "ttfc_ms": item["ttfc_ms"],
                "total_ms": item["total_ms"],
                "tokens_per_s": item["tokens_per_s"],
            }

    def _play(self, clip: np.ndarray, rate: int) -> None:
        try:
            audio_io.play(clip, rate, self.recorder.backend)
        except Exception as exc:  # noqa: BLE001 - no output device is a note, not a crash
            self.window.chat.add_note(f"Could not play the clip: {exc}")

    # -- conversation controls ---------------------------------------------------------------

    def _show_key(self) -> None:
        self.window.set_key_hint(self.ptt.key_name, self.hotkey.active)

    def set_push_to_talk_key(self, name: str) -> bool:
        old = self.ptt.key_name
        try:
            self.ptt.set_key(name)
        except ValueError as exc:
            self.window.chat.add_note(f"That key can't be used: {exc}.")
            return False
        if self.hotkey.active and self.ptt.key_name != self.hotkey.key_name:
            try:
                self.hotkey.start(self.ptt.key_name)
            except HotkeyUnavailable as exc:
                self.ptt.set_key(old)
                self.window.chat.add_note(
                    f"{name} can't be the system-wide key: {exc}. The key stays {old}."
                )
                self._regrab()
                return False
        self.settings.setValue("ui/push_to_talk_key", self.ptt.key_name)
        self._show_key()
        return True

    def set_system_wide(self, enabled: bool, *, remember_failure: bool = True) -> bool:
        """Make the push-to-talk key work whatever window has focus (X11), or stop."""
        done = True
        if enabled:
            try:
                self.hotkey.start(self.ptt.key_name)
            except HotkeyUnavailable as exc:
                self.window.chat.add_note(f"The key can't work system-wide: {exc}.")
                done = False
        else:
            self.hotkey.stop()
        if done or remember_failure:
            self.settings.setValue("ui/system_wide_key", enabled and done)
        self._show_key()
        return done

    def _regrab(self) -> None:
        """Take the old key back after a failed change; if even that fails, say so."""
        try:
            self.hotkey.start(self.ptt.key_name)
        except HotkeyUnavailable as exc:
            self._hotkey_lost(f"The system-wide key is off: {exc}.")

    def _hotkey_lost(self, message: str) -> None:
        if self.hotkey.running:
            return  # from a grab since replaced by a working one
        self.hotkey.stop()
        self._show_key()
        self.window.chat.add_note(message)

    @property
    def system_wide_wanted(self) -> bool:
        return self.settings.value("ui/system_wide_key", False, type=bool)

    def apply_key_choice(self, name: str, system_wide: bool) -> None:
        """What the key dialog chose; a key is changed before it is grabbed."""
        if not system_wide and (self.hotkey.active or self.system_wide_wanted):
            self.set_system_wide(False)
        if name and name != self.ptt.key_name:
            self.set_push_to_talk_key(name)
        if system_wide and not self.hotkey.active:
            self.set_system_wide(True)

    def key_dialog(self) -> None:
        dialog = KeyDialog(
            self.ptt.key_name,
            self.hotkey.active or self.system_wide_wanted,
            unavailable_reason(),
            self.window,
        )
        if dialog.exec():
            self.apply_key_choice(dialog.key_name, dialog.system_wide)

    def _remember_mode(self) -> None:
        self.settings.setValue("ui/mode", self.mode)

    def new_conversation(self) -> None:
        self.barge_in()
        self.engine.clear_history()
        self.turns = []
        self.window.chat.clear()

    def export_to(self, path: Path) -> None:
        text = (
            to_json(self.turns)
            if path.suffix.lower() == ".json"
            else to_markdown(self.turns)
        )
        path.write_text(text, encoding="utf-8")

    def export_dialog(self) -> None:
        if not self.turns:
            self.window.chat.add_note("Nothing to export yet: ask something first.")
            return
        name, _ = QFileDialog.getSaveFileName(
            self.window,
            "Export conversation",
            "conversation.md",
            "Markdown (*.md);;JSON (*.json)",
        )
        if name:
            try:
                self.export_to(Path(name))
            except OSError as exc:
                self.window.chat.add_note(f"Could not export: {exc}")

    async def shutdown(self) -> None:
        self.closing = True
        self.hotkey.stop()
        self.settings.setValue("ui/geometry", self.window.saveGeometry())
        self.barge_in()
        self._cancel_load.set()
        self.picker.cancel_checks()
        for task in (
            self._switch_task,
            self._turn_task,
            self._load_task,
            self._preview_task,
        ):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._unloading is not None:
            await self._unloading
        self.speech.close()
        self.recorder.close()
        self.ptt.close()
        await self.engine.close()
