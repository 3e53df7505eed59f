"""Speech found whatever the microphone's level: Silero VAD, the model faster-whisper ships
in its wheel (no download), run by ONNX Runtime.

The energy gate (``core.audio.estimate_speech``) stays the meter and the first check; a clip
it finds silent goes to Silero, which hears speech 35 dB below a normal level as well as at
it, and still finds none in silence, a fan, mains hum or a click.
"""

from __future__ import annotations

import threading

import numpy as np

from core.audio import resample

VAD_RATE = 16000
_lock = threading.Lock()  # one ONNX Runtime session, shared: one clip at a time


def speech_seconds(samples: np.ndarray, sample_rate: int) -> float:
    """Seconds of ``samples`` (mono float32) that Silero VAD takes for speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if sample_rate != VAD_RATE:
        samples = resample(samples, sample_rate, VAD_RATE)
    # no padding and short pauses kept apart: the seconds counted are speech, not margin
    options = VadOptions(min_silence_duration_ms=100, speech_pad_ms=0)
    with _lock:
        found = get_speech_timestamps(samples, options, sampling_rate=VAD_RATE)
    return sum(part["end"] - part["start"] for part in found) / VAD_RATE
