"""Silero VAD (shipped in faster-whisper's wheel) finds speech at any level and none in the
sounds a microphone picks up when no one speaks."""

from __future__ import annotations

import pytest

from core.audio import estimate_speech, resample
from core.voice_activity import speech_seconds
from testkit.conditions import at_gain, click, hum, pink_noise
from testkit.voices import PIPER, speak

RATE = 16000


@pytest.fixture(scope="module")
def question():
    samples, rate = speak("What is the capital of France?", voice=PIPER)
    return resample(samples, rate, RATE)


@pytest.mark.parametrize("gain_db", [0, -35, -45])
def test_speech_is_found_at_any_level(question, gain_db):
    quiet = at_gain(question, gain_db)
    assert speech_seconds(quiet, RATE) > 1.0  # the question is ~1.6 s of speech
    if gain_db <= -35:  # what the level gate alone misses
        assert estimate_speech(quiet, RATE, -45.0).speech_s < 0.2


def test_speech_is_found_at_a_device_rate(question):
    device = resample(at_gain(question, -35), RATE, 44100)
    assert speech_seconds(device, 44100) > 1.0


@pytest.mark.parametrize(
    "sound",
    [
        pink_noise(3, RATE, -50),  # a quiet fan
        pink_noise(3, RATE, -25),  # a loud one
        hum(3, RATE, 0.05, dc=0.02),
        hum(3, RATE, 0.002),
        click(3, RATE),
        at_gain(pink_noise(3, RATE, 0), -90),  # a sound card's dither
    ],
    ids=["fan-quiet", "fan-loud", "hum-dc", "hum-quiet", "click", "dither"],
)
def test_no_speech_is_found_in_what_is_not_speech(sound):
    assert speech_seconds(sound, RATE) < 0.3
