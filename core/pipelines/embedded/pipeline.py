"""The embedded two-stage pipeline: faster-whisper recognises the clip, a small chat model
answers the transcript through the same streaming path as the audio models."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.config import Config
from core.models.devices import physical_cores, recognizer_target, resolve_dtype
from core.models.extras import require_audio_models
from core.models.packaged import (
    CHAT_MODELS,
    WHISPER_BASE,
    assemble,
    cache_dir,
    convert_gguf,
)
from core.models.presets import RECOGNISERS
from core.pipelines.base import Exchange, Generator, PipelineBase, Prepared, Progress
from core.pipelines.embedded.llama_chat import LlamaChat, llama_options
from core.pipelines.recognizer import Recognizer
from core.pipelines.transcript import TextTurn, chat_messages, heard_turn, read_usage

log = logging.getLogger(__name__)


def _cpu_has_fast_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def chat_dtype(setting: str, device: Any) -> Any:
    """bfloat16 where it is computed natively (a GPU from Ampere on, a CPU with bf16
    instructions), float16 on an older GPU, float32 on other CPUs, where bf16 matmuls are
    emulated and slow."""
    import torch

    if setting != "auto":
        return getattr(torch, setting)
    if device.type == "cuda":
        return resolve_dtype("auto", device)
    if device.type == "cpu" and _cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def chat_runtime(setting: str) -> str:
    """``auto`` is llama.cpp everywhere: it runs the packaged GGUF as it is. transformers
    (a one-time conversion of the GGUF) is the opt-in for a GPU, since llama.cpp's wheel
    on PyPI runs on the CPU."""
    return "llama.cpp" if setting == "auto" else setting


def recogniser_files(
    model_id: str, cache: Path, progress: Progress | None
) -> tuple[str, Path]:
    """The Whisper ``model_id`` hears with and its folder: the packaged base, or a larger
    one from the hub (``core.models.presets.RECOGNISERS``), downloaded on first use."""
    larger = RECOGNISERS.get(model_id)
    if larger is None:
        return "whisper-base", assemble(WHISPER_BASE, cache, progress)
    from core.models.hub import model_files

    return larger.name, Path(model_files(larger.hub_id, progress))


class EmbeddedPipeline(PipelineBase):
    sample_rate = 16000
    hears = True
    turn = TextTurn()
    #: the last preview's transcript and the clock its prompt was cached with
    _previewed: tuple[str, datetime] | None = None

    def __init__(
        self,
        recognizer: Recognizer,
        description: str,
        *,
        model=None,
        tokenizer=None,
        llama: LlamaChat | None = None,
        options: dict | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.description = description
        self.model = model  # the transformers runtime's model and tokenizer
        self.tokenizer = tokenizer
        self.generator = Generator(model, tokenizer) if model is not None else None
        # torch modules keep their weights in reference cycles
        self.collect_after_close = model is not None
        self.llama = llama  # or the llama.cpp runtime, with its request options
        self.options = options or {}
        self.notice = recognizer.placement.fallback if recognizer.placement else None

    @classmethod
    def load(cls, config: Config, progress: Progress | None = None) -> EmbeddedPipeline:
        settings = config.embedded
        cache = cache_dir(settings)
        packaged = CHAT_MODELS[settings.chat_model]
        runtime = chat_runtime(settings.chat_runtime)
        whisper_name, whisper_dir = recogniser_files(config.model.id, cache, progress)
        if runtime == "llama.cpp":
            chat_dir = assemble(packaged, cache, progress)
        else:
            require_audio_models("embedded.chat_runtime: transformers")
            chat_dir = convert_gguf(packaged, cache, progress)
        if progress:
            progress("Loading the speech recogniser and the chat model", None)
        threads = settings.threads or physical_cores()
        whisper = f"{whisper_name} ({settings.recognizer_window} window)"
        llama: LlamaChat | None = None
        if runtime == "llama.cpp":
            # Not on a thread beside Whisper's load: xllamacpp's Server holds the GIL while
            # it loads, so the two would run one after the other anyway.
            # the PyPI wheel computes on the CPU, whatever GPU is there
            llama = LlamaChat(chat_dir / packaged.filename, threads)
        try:
            # With llama.cpp on a CPU-only machine, Whisper loads on the background thread
            # below, after the app is ready: the first clip needs it only once the user
            # has spoken, and a clip that comes sooner waits for it. Where it may run on a
            # GPU it loads now, so the status line says where it ended up.
            recognizer = Recognizer.from_settings(
                whisper_dir,
                settings,
                threads,
                load_now=False,
                model_device=recognizer_target(config.model.device),
            )
            if llama is None or recognizer.wanted != "cpu":
                recognizer.load()
            if progress:
                progress("Warming up", None)
            if llama is None:
                recognizer.warm_up()
        except BaseException:
            if llama is not None:
                llama.close()
            raise
        if llama is not None:
            # First-call costs and the system prompt are paid after the engine is ready,
            # on a thread of llama.cpp's chat (time a first question would otherwise wait
            # for, and usually done before it is asked).
            llama.prefill_in_background(
                [{"role": "system", "content": config.prompts.conversation}],
                before=lambda: (recognizer.load(), recognizer.warm_up()),
            )
            pipeline = cls(
                recognizer,
                f"embedded: {whisper} {recognizer.where()} + {settings.chat_model} in "
                "llama.cpp on cpu",
                llama=llama,
                options=llama_options(config.chunked_response.generation),
            )
            pipeline.turn = TextTurn.from_config(config)
            return pipeline
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from core.models.devices import resolve_device

        torch_device = resolve_device(config.model.device)
        dtype = chat_dtype(config.model.dtype, torch_device)
        model = (
            AutoModelForCausalLM.from_pretrained(chat_dir, dtype=dtype)
            .to(torch_device)
            .eval()
        )
        pipeline = cls(
            recognizer,
            f"embedded: {whisper} {recognizer.where()} + {settings.chat_model} on "
            f"{torch_device}, {dtype}",
            model=model,
            tokenizer=AutoTokenizer.from_pretrained(chat_dir),
        )
        pipeline.turn = TextTurn.from_config(config)
        pipeline.warm_up()
        return pipeline

    def warm_up(self) -> None:
        """transformers: pay first-call costs (allocator, kernel selection) at load, not on
        the first turn."""
        import torch

        started = time.perf_counter()
        inputs = self._chat_inputs([{"role": "user", "content": "Hi"}])
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
        self,
        samples: np.ndarray,
        mode: str,
        prompt: str,
        history: Sequence[Exchange],
        heard: str | None = None,
    ) -> Prepared:
        # the preview's clock when its transcript is reused: the prompt it cached then
        previewed, self._previewed = self._previewed, None
        now = previewed[1] if previewed and heard and previewed[0] == heard else None
        prepared, messages = heard_turn(
            self.recognizer, samples, mode, prompt, history, heard, self.turn, now
        )
        if messages is None:
            return prepared
        if self.llama is not None:
            prepared.produce = self._llama_producer(messages, prepared)
            return prepared
        template_started = time.perf_counter()
        prepared.inputs = self._chat_inputs(messages)
        prepared.generator = self.generator
        prepared.stage_ms["template_ms"] = round(
            (time.perf_counter() - template_started) * 1000, 3
        )
        prepared.stats["prompt_tokens"] = int(prepared.inputs["input_ids"].shape[-1])
        return prepared

    def preview(
        self, samples: np.ndarray, prompt: str, history: Sequence[Exchange]
    ) -> str | None:
        """The clip so far, recognised; its prompt is computed into llama.cpp's cache, so
        the final request only prefills what was said after this (usually nothing)."""
        heard = self.recognizer.transcribe(samples)
        if heard and self.llama is not None:
            now = datetime.now().astimezone()
            self._previewed = (heard, now)
            self.llama.prefill(
                chat_messages(
                    prompt,
                    history,
                    heard,
                    self.recognizer.heard_language,
                    local_time=self.turn.local_time,
                    now=now,
                )
            )
        return heard or None

    def _llama_producer(self, messages: list[dict[str, str]], prepared: Prepared):
        def produce(emit, cancel) -> None:
            reported = self.llama.stream(messages, self.options, emit, cancel)
            read_usage(reported, prepared.stage_ms, prepared.stats)

        return produce

    def close(self) -> None:
        """Let go of the chat model: llama.cpp's frees its memory itself; a transformers
        model is dropped (its owner collects it: ``collect_after_close``) and a GPU's cached
        blocks go back."""
        if self.llama is not None:
            self.llama.close()
        if self.model is not None:
            import torch

            self.model = self.tokenizer = self.generator = None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
