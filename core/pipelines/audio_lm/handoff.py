"""Hand a clip to a processor that needs a file: a WAV in a private directory, always removed."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

TEMP_PREFIX = "ptt-clip-"


@contextmanager
def temporary_wav(samples: np.ndarray, sample_rate: int) -> Iterator[Path]:
    """Write ``samples`` as float WAV (mode 0600, in a fresh 0700 directory); delete both on exit."""
    directory = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))  # mkdtemp creates it 0700
    try:
        path = directory / "clip.wav"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            sf.write(handle, samples, sample_rate, format="WAV", subtype="FLOAT")
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
