"""Model-family backends, chosen by the ``model_type`` a checkpoint declares."""

from __future__ import annotations

from core.backends.base import AudioBackend, Clip
from core.backends.qwen2_audio import Qwen2AudioBackend
from core.backends.voxtral import VoxtralBackend

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


__all__ = ["BACKENDS", "AudioBackend", "Clip", "backend_for"]
