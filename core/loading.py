"""Load a checkpoint (Hugging Face id or local folder) with its processor and family backend."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch

from core.backends import AudioBackend, backend_for
from core.config import ModelSettings

log = logging.getLogger(__name__)

_DTYPES = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass
class LoadedModel:
    model: Any
    processor: Any
    backend: AudioBackend
    device: torch.device
    dtype: torch.dtype

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def sample_rate(self) -> int:
        return int(self.processor.feature_extractor.sampling_rate)

    @property
    def audio_token_id(self) -> int:
        return int(self.model.config.audio_token_id)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"model.device is {device!r} but no CUDA GPU is available; use 'auto' or 'cpu'"
        )
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return _DTYPES[dtype]


def load_model(settings: ModelSettings) -> LoadedModel:
    """Blocking load; call it off the event loop."""
    import transformers
    from transformers import AutoConfig, AutoProcessor

    if settings.trust_remote_code:
        log.warning(
            "trust_remote_code is on for %s: its repository code will run", settings.id
        )
    hf_config = AutoConfig.from_pretrained(
        settings.id, trust_remote_code=settings.trust_remote_code
    )
    backend = backend_for(hf_config.model_type)
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    model_class = getattr(transformers, backend.model_class_name)
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "trust_remote_code": settings.trust_remote_code,
    }
    if settings.attn_implementation != "auto":
        kwargs["attn_implementation"] = settings.attn_implementation
    if device.type == "cuda":
        kwargs["device_map"] = str(device)  # load straight onto the GPU
    model = model_class.from_pretrained(settings.id, **kwargs)
    if device.type != "cuda":
        model = model.to(device)
    model.eval()
    processor = AutoProcessor.from_pretrained(
        settings.id, trust_remote_code=settings.trust_remote_code
    )
    log.info(
        "loaded %s (%s) on %s as %s", settings.id, hf_config.model_type, device, dtype
    )
    return LoadedModel(
        model=model, processor=processor, backend=backend, device=device, dtype=dtype
    )
