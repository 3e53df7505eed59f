"""How real microphones and rooms degrade speech, and the sounds that are not speech: for
the conditions the embedded default is tested and evaluated under."""

from __future__ import annotations

import numpy as np

from core.audio import resample
from testkit.voices import speak_espeak


def at_gain(samples: np.ndarray, db: float) -> np.ndarray:
    """``samples`` made ``db`` louder (negative: quieter), as a lower input gain does."""
    return (samples * 10 ** (db / 20)).astype(np.float32)


def pink_noise(seconds: float, rate: int, dbfs: float, seed: int = 0) -> np.ndarray:
    """A fan's steady noise: power falling 3 dB an octave, at RMS ``dbfs``."""
    n = round(seconds * rate)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spectrum /= np.sqrt(np.arange(1, len(spectrum) + 1))
    noise = np.fft.irfft(spectrum, n)
    return at_gain(noise / np.std(noise), dbfs)


def hum(seconds: float, rate: int, amplitude: float, dc: float = 0.0) -> np.ndarray:
    """Mains hum at 50 Hz, with a DC offset as a cheap sound card adds."""
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 50 * t) + dc).astype(np.float32)


def click(seconds: float, rate: int, at_s: float = 1.0) -> np.ndarray:
    """A single loud click (a key, a plug) in silence."""
    clip = np.zeros(round(seconds * rate), np.float32)
    start = round(at_s * rate)
    clip[start : start + 3] = (0.8, -0.8, 0.5)
    return clip


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def with_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` with ``noise`` (looped or cut to its length) mixed in at ``snr_db``,
    the speech's RMS taken over its voiced part (frames within 30 dB of its loudest)."""
    noise = np.resize(noise, len(speech))
    frames = speech[: len(speech) // 320 * 320].reshape(-1, 320)
    energy = np.mean(np.square(frames, dtype=np.float64), axis=1)
    voiced = frames[energy > energy.max() * 1e-3]
    gain = _rms(voiced) / (_rms(noise) * 10 ** (snr_db / 20))
    return (speech + gain * noise).astype(np.float32)


def white_noise(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Hiss: a cheap microphone's or an amplifier's flat noise, unit RMS."""
    n = round(seconds * rate)
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def babble(talkers: list[np.ndarray], seconds: float, rate: int) -> np.ndarray:
    """Other people talking: each talker's speech looped from its own offset, summed, so
    several voices overlap all the time (unit RMS)."""
    n = round(seconds * rate)
    mix = np.zeros(n, np.float64)
    for k, voice in enumerate(talkers):
        looped = np.resize(voice, n + len(voice))
        start = (k * len(voice)) // max(len(talkers), 1)
        mix += looped[start : start + n] / max(_rms(voice), 1e-9)
    return (mix / max(_rms(mix), 1e-9)).astype(np.float32)


def room_response(
    rt60_s: float, rate: int, direct_to_reverberant_db: float = 0.0, seed: int = 0
) -> np.ndarray:
    """A room's impulse response: the direct sound, then a tail of noise decaying 60 dB in
    ``rt60_s`` from 5 ms on (the usual statistical model of a diffuse reverberant field),
    the tail's energy ``direct_to_reverberant_db`` below the direct sound's."""
    n = round(rt60_s * rate)
    t = np.arange(n) / rate
    tail = np.random.default_rng(seed).standard_normal(n) * np.exp(-6.9078 * t / rt60_s)
    tail[: round(0.005 * rate)] = 0.0
    tail *= 10 ** (-direct_to_reverberant_db / 20) / np.sqrt(np.sum(tail**2))
    tail[0] = 1.0
    return tail


def reverberant(speech: np.ndarray, rate: int, rt60_s: float) -> np.ndarray:
    """``speech`` as heard across a room with reverberation time ``rt60_s``, at its peak
    level (the tail rings on after the last word)."""
    wet = np.convolve(speech, room_response(rt60_s, rate))[: len(speech)]
    return (wet * (np.max(np.abs(speech)) / np.max(np.abs(wet)))).astype(np.float32)


def phone_band(speech: np.ndarray, rate: int) -> np.ndarray:
    """``speech`` as a telephone line or a headset's narrowband link delivers it: 300-3400
    Hz, 8 kHz, 16-bit integers (returned as int16 at 8000 Hz)."""
    import soxr

    narrow = soxr.resample(speech, rate, 8000)
    spectrum = np.fft.rfft(narrow)
    freqs = np.fft.rfftfreq(len(narrow), 1 / 8000)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    band = np.fft.irfft(spectrum, len(narrow))
    return np.clip(np.round(band * 32767), -32768, 32767).astype(np.int16)


def stereo_device(
    speech: np.ndarray, rate: int, device_rate: int = 44100
) -> np.ndarray:
    """``speech`` as a 44.1 kHz stereo USB microphone delivers it: (samples, 2), the
    second channel a little quieter and 0.2 ms later, as two capsules apart hear it."""
    import soxr

    left = soxr.resample(speech, rate, device_rate).astype(np.float32)
    delay = round(0.0002 * device_rate)
    right = 0.8 * np.r_[np.zeros(delay, np.float32), left[:-delay]]
    return np.stack([left, right], axis=1).astype(np.float32)


#: four other people across the room, in espeak-ng's voices (piper has one voice: the
#: speaker's)
OTHER_PEOPLE = (
    ("en-us+m3", "I told him we would meet at the station after lunch on Friday."),
    ("en-gb+f2", "Have you seen the new schedule for the spring term yet?"),
    ("en-us+f4", "They moved the meeting again, so nobody knows where to go."),
    ("en-gb+m1", "My brother bought a car last week and it already broke down."),
)


def people_talking(seconds: float, rate: int) -> np.ndarray:
    """Babble: the other people talking at once across a reverberant room (RT60 0.6 s)."""
    talkers = [
        reverberant(resample(*speak_espeak(text, 150, voice), rate), rate, 0.6)
        for voice, text in OTHER_PEOPLE
    ]
    return babble(talkers, seconds, rate)
