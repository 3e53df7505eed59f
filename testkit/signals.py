"""Synthetic test audio shared by the tests and the benchmarks."""

from __future__ import annotations

import numpy as np


def speech_like(
    seconds: float = 1.5, rate: int = 16000, level: float = 0.3
) -> np.ndarray:
    """A voiced, syllable-modulated tone: loud enough to pass the speech gate."""
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
    tone = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 360 * t)
    return (level * envelope * tone / 1.5).astype(np.float32)
