"""The named models: the embedded default (with the packaged Whisper base, or a larger
recogniser from the hub) and the audio-model presets, with what a download weighs and needs. Data only: nothing here imports the rest of the app."""

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


@dataclass(frozen=True)
class Recogniser:
    """A larger speech recogniser for the embedded default: faster-whisper's CTranslate2
    conversion on the hub (the chat model stays the packaged one)."""

    #: shown in the picker and the status line
    name: str
    hub_id: str
    #: model.bin at float16, from the hub's file listing
    download_gb: float
    needs: str


#: ``model.id`` -> the embedded default hearing with a larger Whisper from the hub
RECOGNISERS: dict[str, Recogniser] = {
    "embedded-large-v3-turbo": Recogniser(
        "Whisper large-v3-turbo",
        "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
        1.6,
        "GPU, ~2 GB; any language",
    ),
    "embedded-distil-large-v3": Recogniser(
        "Distil-Whisper large-v3",
        "Systran/faster-distil-whisper-large-v3",
        1.5,
        "GPU, ~2 GB; English only",
    ),
}
