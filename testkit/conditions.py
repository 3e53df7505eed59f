"""How real microphones and rooms degrade speech, and the sounds that are not speech: for
the conditions the embedded default is tested and evaluated under."""

from __future__ import annotations

import numpy as np


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
