"""The named models: the embedded default and the audio-model presets, with what a preset's
download weighs and needs. Data only: nothing here imports the rest of the app."""

from __future__ import annotations

from dataclasses import dataclass

EMBEDDED = "embedded"


@dataclass(frozen=True)
class Preset:
    #: the Hugging Face repository it downloads
    hub_id: str
    #: from the hub's file listings (safetensors + tokenizer files)
    download_gb: float
    #: what it needs to run, shown in the picker
    needs: str


PRESETS: dict[str, Preset] = {
    "voxtral-mini": Preset("mistralai/Voxtral-Mini-3B-2507", 9.4, "GPU, ~10 GB"),
    "qwen2-audio": Preset("Qwen/Qwen2-Audio-7B-Instruct", 16.8, "GPU, ~18 GB"),
}


def resolve_preset(model_id: str) -> str:
    """The hub id a preset stands for; any other id as it is."""
    preset = PRESETS.get(model_id)
    return preset.hub_id if preset else model_id
