"""Spoken answers in the window: the real window and engine (tiny model), real sounddevice
streams on a private PulseAudio server (the question played into a null sink, the answer's
speech played to it and recorded from its monitor), the packaged piper voice, and Whisper
hearing the speech back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QEvent, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from core.audio import resample
from core.models.packaged import WHISPER_BASE, assemble, default_cache_dir
from core.pipelines.recognizer import Recognizer
from desktop_app.widgets.chat_view import AnswerBubble, NoteLabel
from testkit import paths
from testkit.servers import Recording
from testkit.signals import speech_like
from testkit.tiny_model import TINY_SENTENCE
from testkit.voices import normalised_word_error_rate
from tests.conftest import thread_names
from tests.desktop.test_window import bubbles, hold_space, key

SAMPLE_CLIP = paths.SAMPLE_QUESTION


@pytest.fixture(scope="module")
def question(tmp_path_factory):
    """The sample question with silence in front (a new stream's start is dropped)."""
    samples, rate = sf.read(SAMPLE_CLIP, dtype="float32")
    path = tmp_path_factory.mktemp("clip") / "question.wav"
    sf.write(path, np.r_[np.zeros(rate // 10, np.float32), samples], rate)
    return path


def ask(controller, qtbot, env, question) -> None:
    """Hold the key while the question plays into the microphone, then let go."""
    QApplication.sendEvent(controller.window, key(QEvent.Type.KeyPress))
    player = subprocess.Popen(["paplay", "--device=vsink", str(question)], env=env)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=20000)
    qtbot.wait(200)
    QApplication.sendEvent(controller.window, key(QEvent.Type.KeyRelease))


def speaking_app(make_app, qtbot, sounddevice):
    controller = make_app(backend=sounddevice, speech={"enabled": True})
    qtbot.waitUntil(lambda: controller.speech.voice is not None, timeout=30000)
    assert controller.window.speak_button.isChecked()
    return controller


def test_the_answer_is_spoken_and_heard_back(make_app, qtbot, pulse, question):
    env, sounddevice = pulse
    controller = speaking_app(make_app, qtbot, sounddevice)
    ask(controller, qtbot, env, question)
    recording = Recording(sounddevice)  # after the question: only the answer is heard
    qtbot.waitUntil(lambda: controller.speech.speaker is not None, timeout=30000)
    (answer,) = bubbles(controller, AnswerBubble)
    speaker = controller.speech.speaker
    if speaker.first_sound_at is None:  # nothing heard yet: not said to be speaking
        assert answer.speaking_label.isHidden()
    assert controller.window.stop_button.isEnabled()
    qtbot.waitUntil(lambda: speaker.first_sound_at is not None, timeout=30000)
    # "speaking…" on the answer being read, once it is heard
    qtbot.waitUntil(lambda: not answer.speaking_label.isHidden(), timeout=1000)
    qtbot.waitUntil(lambda: controller.speech.speaker is None, timeout=30000)
    qtbot.wait(200)
    samples = recording.stop()
    assert answer.text == TINY_SENTENCE
    assert answer.speaking_label.isHidden()
    assert not controller.window.stop_button.isEnabled()
    # Whisper base hears piper's reading of the tiny model's sentence near word-perfectly;
    # 0.25 allows 3 of its 12 words, while silence or another sentence scores ~1.
    whisper = Recognizer(assemble(WHISPER_BASE, default_cache_dir()), "int8", "en", 2)
    heard = whisper.transcribe(resample(samples, Recording.RATE, 16000))
    assert normalised_word_error_rate([TINY_SENTENCE], [heard]) <= 0.25, heard


@pytest.mark.parametrize("how", ["talk key", "stop button", "Esc key"])
def test_talking_or_stop_silences_the_answer_at_once(
    make_app, qtbot, pulse, question, how
):
    env, sounddevice = pulse
    controller = speaking_app(make_app, qtbot, sounddevice)
    ask(controller, qtbot, env, question)
    recording = Recording(sounddevice)
    qtbot.waitUntil(lambda: controller.speech.speaker is not None, timeout=30000)
    speaker = controller.speech.speaker
    qtbot.waitUntil(lambda: speaker.first_sound_at is not None, timeout=30000)
    qtbot.wait(600)  # mid-sentence
    stopped_at = time.monotonic()
    if how == "talk key":
        QApplication.sendEvent(controller.window, key(QEvent.Type.KeyPress))
    elif how == "stop button":
        controller.window.stop_button.click()
    else:  # through Qt's shortcut map, as a real key press goes
        QTest.keyClick(controller.window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not speaker.speaking, timeout=5000)
    qtbot.wait(500)
    recording.stop()
    silence_ms = (recording.last_sound_at() - stopped_at) * 1000
    assert silence_ms <= 50, f"still sounding {silence_ms:.0f} ms after the {how}"
    assert controller.recorder.is_recording == (how == "talk key")
    if how == "talk key":
        QApplication.sendEvent(controller.window, key(QEvent.Type.KeyRelease))
    qtbot.waitUntil(lambda: controller.speech.speaker is None, timeout=10000)
    qtbot.waitUntil(lambda: "ptt-speaker" not in thread_names(), timeout=5000)


def test_the_speaker_toggle_is_remembered_and_off_means_silent(
    make_app, qtbot, pulse, question, settings
):
    env, sounddevice = pulse
    controller = speaking_app(make_app, qtbot, sounddevice)
    controller.window.speak_button.click()  # off
    assert settings.value("speech/enabled") in (False, "false")
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        ask(controller, qtbot, env, question)
    assert controller.speech.speaker is None
    assert bubbles(controller, AnswerBubble)[-1].text == TINY_SENTENCE
    again = make_app(backend=sounddevice, speech={"enabled": True})
    assert not again.window.speak_button.isChecked()  # the user's choice wins


def test_no_output_device_is_a_note_and_the_answer_still_shows(make_app, qtbot, sound):
    """The fake sound card has a microphone and no speaker: PortAudio cannot open one."""
    controller = make_app(speech={"enabled": True})
    qtbot.waitUntil(lambda: controller.speech.voice is not None, timeout=30000)
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like())
    notes = [w.text() for w in bubbles(controller, NoteLabel)]
    assert any("no output device can play speech" in n for n in notes), notes
    assert bubbles(controller, AnswerBubble)[-1].text == TINY_SENTENCE
    assert controller.window.output_box.itemText(0) == "No speaker found"


def test_the_voice_process_is_replaced_after_a_crash_and_ends_with_the_app(
    make_app, qtbot, pulse, question
):
    """Synthesis runs in a process of its own, started with the app (not with the first
    answer); a crashed one is replaced for the next answer; shutting down ends it."""
    env, sounddevice = pulse
    controller = speaking_app(make_app, qtbot, sounddevice)
    voice = controller.speech.voice
    first = voice.pid
    os.kill(first, signal.SIGKILL)
    qtbot.waitUntil(lambda: not Path(f"/proc/{first}").exists(), timeout=5000)
    ask(controller, qtbot, env, question)
    qtbot.waitUntil(lambda: controller.speech.speaker is not None, timeout=30000)
    speaker = controller.speech.speaker
    qtbot.waitUntil(lambda: not speaker.speaking, timeout=30000)
    assert speaker.error is None and [s for s, _ in speaker.spoken] == [TINY_SENTENCE]
    assert voice.starts == 2 and voice.pid != first
    second = voice.pid
    task = asyncio.ensure_future(controller.shutdown())
    qtbot.waitUntil(task.done, timeout=30000)
    qtbot.waitUntil(lambda: not Path(f"/proc/{second}").exists(), timeout=5000)
    assert "ptt-voice" not in thread_names()
