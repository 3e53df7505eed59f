"""The embedded two-stage pipeline: faster-whisper recognises the clip, a small chat model
answers the transcript through the same streaming path as the audio models."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.config import Config
from core.devices import resolve_device
from core.embedded.assets import (
    CHAT_MODELS,
    WHISPER_BASE,
    assemble,
    convert_gguf,
    default_cache_dir,
)
from core.embedded.recognizer import Recognizer
from core.errors import EngineError, ErrorCode
from core.pipeline import Exchange, Prepared, Progress

log = logging.getLogger(__name__)


def _cpu_has_fast_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def chat_dtype(setting: str, device: torch.device) -> torch.dtype:
    """bfloat16 on GPUs and on CPUs with native bf16 (about 2x faster than float32 there);
    float32 on other CPUs, where bf16 matmuls are emulated and slow."""
    if setting != "auto":
        return getattr(torch, setting)
    if device.type == "cuda" or (device.type == "cpu" and _cpu_has_fast_bf16()):
        return torch.bfloat16
    return torch.float32


class EmbeddedPipeline:
    sample_rate = 16000

    def __init__(
        self, recognizer: Recognizer, model, tokenizer, description: str
    ) -> None:
        self.recognizer = recognizer
        self.model = model
        self.tokenizer = tokenizer
        self.description = description

    @classmethod
    def load(cls, config: Config, progress: Progress | None = None) -> EmbeddedPipeline:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        settings = config.embedded
        cache = (
            Path(settings.cache_dir).expanduser()
            if settings.cache_dir
            else default_cache_dir()
        )
        packaged = CHAT_MODELS[settings.chat_model]
        whisper_dir = assemble(WHISPER_BASE, cache, progress)
        chat_dir = convert_gguf(packaged, cache, progress)
        if progress:
            progress("Loading the speech recogniser and the chat model", None)
        threads = settings.threads or torch.get_num_threads()
        recognizer = Recognizer(
            whisper_dir, settings.recognizer_compute_type, settings.language, threads
        )
        device = resolve_device(config.model.device)
        dtype = chat_dtype(config.model.dtype, device)
        model = (
            AutoModelForCausalLM.from_pretrained(chat_dir, dtype=dtype)
            .to(device)
            .eval()
        )
        tokenizer = AutoTokenizer.from_pretrained(chat_dir)
        description = (
            f"embedded: whisper-base + {settings.chat_model} on {device}, {dtype}"
        )
        pipeline = cls(recognizer, model, tokenizer, description)
        if progress:
            progress("Warming up", None)
        pipeline.warm_up()
        return pipeline

    def warm_up(self) -> None:
        """Pay first-call costs (allocator, kernel selection) at load, not on the first turn."""
        started = time.perf_counter()
        self.recognizer.warm_up()
        messages = [{"role": "user", "content": "Hi"}]
        inputs = self._chat_inputs(messages)
        with torch.inference_mode():
            self.model.generate(**inputs, max_new_tokens=2, do_sample=False)
        log.info("warm-up took %.2f s", time.perf_counter() - started)

    def _chat_inputs(self, messages: list[dict[str, str]]):
        inputs = self.tokenizer.apply_chat_template(
            messages,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        )
        return inputs.to(self.model.device)

    def prepare(
        self, samples: np.ndarray, mode: str, prompt: str, history: Sequence[Exchange]
    ) -> Prepared:
        if mode == "transcribe":
            return Prepared(pieces=self.recognizer.segments(samples))
        started = time.perf_counter()
        heard = self.recognizer.transcribe(samples)
        recognition_ms = (time.perf_counter() - started) * 1000
        if not heard:
            raise EngineError(
                ErrorCode.NO_SPEECH, "speech recognition found no words in the clip"
            )
        messages = [{"role": "system", "content": prompt}]
        for turn in history:
            messages.append({"role": "user", "content": turn.user_text or ""})
            messages.append({"role": "assistant", "content": turn.answer})
        messages.append({"role": "user", "content": heard})
        template_started = time.perf_counter()
        inputs = self._chat_inputs(messages)
        return Prepared(
            inputs=inputs,
            heard=heard,
            stage_ms={
                "recognition_ms": round(recognition_ms, 3),
                "template_ms": round(
                    (time.perf_counter() - template_started) * 1000, 3
                ),
                "prompt_tokens": int(inputs["input_ids"].shape[-1]),
            },
        )

    def remember(
        self, samples: np.ndarray, prepared: Prepared, answer: str
    ) -> Exchange:
        return Exchange(user_text=prepared.heard, user_audio=None, answer=answer)
