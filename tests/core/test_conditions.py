"""The degradations the conditions set applies are what their names say: the evaluation's
figures mean nothing if "SNR 5 dB" is not 5 dB or the phone band lets 6 kHz through."""

from __future__ import annotations

import numpy as np
import pytest

from testkit import conditions as room
from testkit.signals import speech_like

RATE = 16000


def _db(power: float) -> float:
    return 10 * np.log10(power)


@pytest.mark.parametrize("snr", [10.0, 5.0, 0.0])
def test_noise_is_mixed_at_the_signal_to_noise_ratio_asked(snr):
    speech = speech_like(2.0, RATE)
    noise = room.white_noise(3.0, RATE, seed=3)
    mixed = room.with_noise(speech, noise, snr)
    added = mixed - speech
    frames = speech[: len(speech) // 320 * 320].reshape(-1, 320)
    energy = np.mean(frames.astype(np.float64) ** 2, axis=1)
    voiced = frames[energy > energy.max() * 1e-3]
    measured = _db(np.mean(voiced.astype(np.float64) ** 2)) - _db(np.mean(added**2))
    assert measured == pytest.approx(snr, abs=0.1)


def test_the_room_rings_for_its_reverberation_time():
    response = room.room_response(0.6, RATE)
    energy = np.cumsum(response[::-1] ** 2)[::-1]  # Schroeder's backward integral
    decay = _db(energy / energy[0])
    tail = decay[round(0.005 * RATE) + 1 :]
    # the tail drops ~60 dB in 0.6 s: 20 dB by about 0.2 s
    at_20 = np.argmax(tail < decay[round(0.005 * RATE) + 1] - 20) / RATE
    assert 0.15 < at_20 < 0.25
    assert response[0] == 1.0


def test_the_phone_band_is_8_khz_int16_without_lows_or_highs():
    t = np.arange(RATE) / RATE
    tones = (
        0.2 * np.sin(2 * np.pi * 100 * t) + 0.2 * np.sin(2 * np.pi * 1000 * t)
    ).astype(np.float32)
    line = room.phone_band(tones, RATE)
    assert line.dtype == np.int16 and len(line) == 8000
    spectrum = np.abs(np.fft.rfft(line.astype(np.float64)))
    assert spectrum[100] < 0.01 * spectrum[1000]  # 1 Hz bins: 100 Hz gone, 1 kHz kept


def test_the_stereo_device_gives_two_channels_at_its_rate():
    stereo = room.stereo_device(speech_like(1.0, RATE), RATE)
    assert stereo.shape == (44100, 2) and stereo.dtype == np.float32
    assert np.max(np.abs(stereo[:, 1])) < np.max(np.abs(stereo[:, 0]))
