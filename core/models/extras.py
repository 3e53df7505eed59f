"""The optional installs a model needs, and how to add one: PyTorch and transformers come
only with the audio-models extra, which set-up installs where it finds an NVIDIA GPU."""

from __future__ import annotations

ADD_AUDIO_MODELS = "scripts/setup --audio-models"


class RuntimeMissing(RuntimeError):
    """What the chosen model runs in is not installed; the message says how to add it."""


def require_audio_models(what: str) -> None:
    """Raise :class:`RuntimeMissing` unless torch and transformers import."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise RuntimeMissing(
            f"{what} runs in PyTorch and transformers, which are not installed here "
            f"({exc}); set-up adds them only where it finds an NVIDIA GPU. Add them (PyTorch's "
            f"CUDA build, ~2.9 GB) with: {ADD_AUDIO_MODELS}"
        ) from None
