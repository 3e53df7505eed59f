"""Qwen2-Audio: the processor takes the array itself; transcription is an ordinary prompt."""

from __future__ import annotations

from typing import Any

from core.pipelines.audio_lm.families.base import Clip


class Qwen2AudioBackend:
    model_type = "qwen2_audio"
    model_class_name = "Qwen2AudioForConditionalGeneration"
    accepts_in_memory_audio = True

    def audio_item(self, clip: Clip) -> dict[str, Any]:
        if clip.wav_path is not None:
            return {"type": "audio", "path": str(clip.wav_path)}
        return {"type": "audio", "audio": clip.samples}

    def transcribe_inputs(
        self, processor: Any, clip: Clip, model_id: str, prompt: str
    ) -> Any | None:
        return None
