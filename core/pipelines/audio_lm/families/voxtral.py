"""Voxtral: audio goes in as a file path or as base64 WAV (its processor rejects raw arrays);
transcription uses the processor's dedicated transcription request."""

from __future__ import annotations

import base64
import io
from typing import Any

import soundfile as sf

from core.pipelines.audio_lm.families.base import Clip


class VoxtralBackend:
    model_type = "voxtral"
    model_class_name = "VoxtralForConditionalGeneration"
    accepts_in_memory_audio = True

    def audio_item(self, clip: Clip) -> dict[str, Any]:
        if clip.wav_path is not None:
            return {"type": "audio", "path": str(clip.wav_path)}
        buffer = io.BytesIO()
        sf.write(buffer, clip.samples, clip.sample_rate, format="WAV", subtype="FLOAT")
        # As a data URL: mistral-common then skips probing the payload as a file path (ms per MB).
        payload = base64.b64encode(buffer.getvalue()).decode("ascii")
        return {"type": "audio", "base64": f"data:audio/wav;base64,{payload}"}

    def transcribe_inputs(
        self, processor: Any, clip: Clip, model_id: str, prompt: str
    ) -> Any | None:
        if clip.wav_path is not None:
            return processor.apply_transcription_request(
                audio=str(clip.wav_path), model_id=model_id
            )
        return processor.apply_transcription_request(
            audio=[clip.samples],
            model_id=model_id,
            sampling_rate=clip.sample_rate,
            format=["wav"],
        )
