"""The real sounddevice input path: a private PulseAudio server with a null sink plays a known
WAV into the app's own capture code (no sound card needed)."""

from __future__ import annotations

import subprocess
import time

import numpy as np
import soundfile as sf
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from desktop_app.widgets.chat_view import AnswerBubble, UserBubble
from testkit import paths
from testkit.tiny_model import TINY_SENTENCE
from tests.desktop.test_window import bubbles, key

CLIP = str(paths.SAMPLE_QUESTION)


def test_a_played_clip_arrives_through_the_real_capture_path(
    make_app, qtbot, pulse, tmp_path
):
    env, sounddevice = pulse
    reference, ref_rate = sf.read(CLIP, dtype="float32")
    played = (
        tmp_path / "padded.wav"
    )  # the null sink drops the very start of a new stream
    sf.write(
        played,
        np.r_[np.zeros(ref_rate // 10, np.float32), reference],
        ref_rate,
        subtype="PCM_16",
    )
    controller = make_app(backend=sounddevice)
    assert controller.recorder.is_open, "the real input stream must open on PulseAudio"
    recorded = []
    stop = controller.recorder.stop_recording
    controller.recorder.stop_recording = lambda: recorded.append(stop()) or recorded[-1]

    meter = controller.window.meter
    QApplication.sendEvent(controller.window, key(QEvent.Type.KeyPress))
    updates, started = meter.updates, time.monotonic()
    player = subprocess.Popen(["paplay", "--device=vsink", str(played)], env=env)
    qtbot.waitUntil(lambda: player.poll() is not None, timeout=20000)
    qtbot.wait(300)  # the tail of the clip, through PortAudio's buffers
    rate_hz = (meter.updates - updates) / (time.monotonic() - started)
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        QApplication.sendEvent(controller.window, key(QEvent.Type.KeyRelease))

    (clip,) = recorded
    assert controller.recorder.stream_rate == ref_rate == 16000
    assert len(clip) >= len(reference)
    # The clip is in the recording, sample for sample (up to 16-bit rounding), at some offset.
    correlation = np.correlate(clip, reference, mode="valid")
    offset = int(np.argmax(correlation))
    aligned = clip[offset : offset + len(reference)]
    assert np.max(np.abs(aligned - reference)) < 1e-4
    assert rate_hz >= 30, f"the meter updated at {rate_hz:.0f} Hz"
    (user,) = bubbles(controller, UserBubble)
    assert float(user.clip_label.text().split()[-2]) >= 4.3
    assert bubbles(controller, AnswerBubble)[0].text == TINY_SENTENCE
