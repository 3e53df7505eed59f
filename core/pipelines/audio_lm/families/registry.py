"""Model-family backends, chosen by the ``model_type`` a checkpoint declares."""

from __future__ import annotations

from core.pipelines.audio_lm.families.base import AudioBackend
from core.pipelines.audio_lm.families.qwen2_audio import Qwen2AudioBackend
from core.pipelines.audio_lm.families.voxtral import VoxtralBackend

BACKENDS: dict[str, AudioBackend] = {
    b.model_type: b for b in (VoxtralBackend(), Qwen2AudioBackend())
}


def backend_for(model_type: str) -> AudioBackend:
    try:
        return BACKENDS[model_type]
    except KeyError:
        raise ValueError(
            f"model type {model_type!r} is not supported; supported: {', '.join(sorted(BACKENDS))}"
        ) from None
