"""What a model family must tell the engine; everything else is the engine's job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Clip:
    """A prepared clip: mono float32 at the processor's rate, and its WAV path when on disk."""

    samples: np.ndarray
    sample_rate: int
    wav_path: Path | None = None


class AudioBackend(Protocol):
    #: ``model_type`` in the checkpoint's config.json
    model_type: str
    #: the transformers class that loads the checkpoint
    model_class_name: str
    #: whether the processor takes the clip without a file
    accepts_in_memory_audio: bool

    def audio_item(self, clip: Clip) -> dict[str, Any]:
        """The conversation content item that carries the clip."""
        ...

    def transcribe_inputs(
        self, processor: Any, clip: Clip, model_id: str, prompt: str
    ) -> Any | None:
        """Model inputs for a verbatim transcript, or None to use the chat template with ``prompt``."""
        ...
