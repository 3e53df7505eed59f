"""An audio-language model (Voxtral, Qwen2-Audio) that hears the clip itself.

Preparing a turn: hand the clip to the processor (in memory, or a private temporary WAV),
apply the chat template with the mode's prompt and the remembered turns, check that audio
tokens really are in the inputs, move them to the model's device and dtype.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from core.config import ModelSettings
from core.errors import EngineError, ErrorCode
from core.models.devices import resolve_device, resolve_dtype, unusable_gpu
from core.pipelines.audio_lm.families.base import AudioBackend, Clip
from core.pipelines.audio_lm.families.registry import backend_for
from core.pipelines.audio_lm.handoff import temporary_wav
from core.pipelines.base import Exchange, Generator, PipelineBase, Prepared, typed
from core.pipelines.clock import time_message

log = logging.getLogger(__name__)


class AudioLMPipeline(PipelineBase):
    #: torch modules can hold their weights in reference cycles: whoever closes this
    #: should run ``gc.collect()`` on its own thread afterwards (see ``close``)
    collect_after_close = True
    hears = False  # the model takes the audio itself
    #: tell the model the local date and time with each question (``prompts.local_time``)
    local_time = True

    def __init__(
        self,
        model: Any,
        processor: Any,
        backend: AudioBackend,
        model_id: str,
        handoff: str = "auto",
    ) -> None:
        self.model = model
        self.processor = processor
        self.backend = backend
        self.model_id = model_id
        self.handoff = handoff
        self.device = model.device
        self.dtype = model.dtype
        self.tokenizer = processor.tokenizer
        self.generator = Generator(model, self.tokenizer)
        self.sample_rate = int(processor.feature_extractor.sampling_rate)
        self.audio_token_id = int(model.config.audio_token_id)
        self.description = (
            f"{model_id} ({backend.model_type}) on {self.device}, {self.dtype}"
        )

    @classmethod
    def load(
        cls,
        settings: ModelSettings,
        folder: str,
        handoff: str,
        model_id: str | None = None,
    ) -> AudioLMPipeline:
        """Blocking load from a local folder (a hub snapshot or the user's own)."""
        model_id = model_id or folder
        import transformers
        from transformers import AutoConfig, AutoProcessor

        if settings.trust_remote_code:
            log.warning(
                "trust_remote_code is on for %s: its repository code will run", model_id
            )
        remote = settings.trust_remote_code
        hf_config = AutoConfig.from_pretrained(folder, trust_remote_code=remote)
        backend = backend_for(hf_config.model_type)
        device = resolve_device(settings.device)
        dtype = resolve_dtype(settings.dtype, device)
        kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": remote}
        if settings.attn_implementation != "auto":
            kwargs["attn_implementation"] = settings.attn_implementation
        if device.type == "cuda":
            kwargs["device_map"] = str(device)  # load straight onto the GPU
        model_class = getattr(transformers, backend.model_class_name)
        model = model_class.from_pretrained(folder, **kwargs)
        if device.type != "cuda":
            model = model.to(device)
        model.eval()
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=remote)
        log.info(
            "loaded %s (%s) on %s as %s", model_id, hf_config.model_type, device, dtype
        )
        pipeline = cls(model, processor, backend, model_id, handoff)
        if device.type == "cpu" and settings.device == "auto":
            pipeline.notice = unusable_gpu()
            if pipeline.notice:
                log.warning("%s", pipeline.notice)
        return pipeline

    def _use_files(self) -> bool:
        return self.handoff == "file" or (
            self.handoff == "auto" and not self.backend.accepts_in_memory_audio
        )

    def _clip(self, samples: np.ndarray, files: ExitStack) -> Clip:
        path: Path | None = None
        if self._use_files():
            path = files.enter_context(temporary_wav(samples, self.sample_rate))
        return Clip(samples=samples, sample_rate=self.sample_rate, wav_path=path)

    def _conversation(
        self,
        clip: Clip | None,
        prompt: str,
        history: Sequence[Exchange],
        files: ExitStack,
        tell_time: bool,
        typed: str | None = None,
    ) -> list[dict[str, Any]]:
        """The chat: the remembered turns, then the clip with the prompt (or, for a typed
        question, the prompt and the question as text)."""
        messages: list[dict[str, Any]] = []
        for turn in history:
            if turn.user_audio is not None:
                content = [self.backend.audio_item(self._clip(turn.user_audio, files))]
            else:
                content = [{"type": "text", "text": turn.user_text or ""}]
            messages.append({"role": "user", "content": content})
            messages.append({"role": "assistant", "content": turn.answer})
        if tell_time:
            # in the question's own turn: not every audio model's template has a system
            # role, and nothing before the clip is cached across turns anyway
            prompt = f"{prompt} {time_message()['content']}"
        if clip is None:
            content = [{"type": "text", "text": f"{prompt}\n\n{typed}"}]
        else:
            content = [self.backend.audio_item(clip), {"type": "text", "text": prompt}]
        messages.append({"role": "user", "content": content})
        return messages

    def _chat_inputs(self, messages: list[dict[str, Any]]) -> Any:
        """The chat, through the processor's template, as model inputs (files still open)."""
        return self.processor.apply_chat_template(
            messages,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        )

    def prepare_text(
        self, text: str, prompt: str, history: Sequence[Exchange]
    ) -> Prepared:
        """A typed question: a text turn, after the remembered ones (clips among them)."""
        with ExitStack() as files:
            inputs = self._chat_inputs(
                self._conversation(
                    None, prompt, history, files, self.local_time, typed=text
                )
            )
        prepared = Prepared(
            inputs=inputs.to(self.device, dtype=self.dtype), generator=self.generator
        )
        typed(prepared, text)
        return prepared

    def prepare(
        self,
        samples: np.ndarray,
        mode: str,
        prompt: str,
        history: Sequence[Exchange],
        heard: str | None = None,  # audio models hear the clip themselves
    ) -> Prepared:
        with ExitStack() as files:  # temp WAVs live only while the processor reads them
            clip = self._clip(samples, files)
            inputs = None
            if mode == "transcribe":
                inputs = self.backend.transcribe_inputs(
                    self.processor, clip, self.model_id, prompt
                )
                history = ()
            if inputs is None:
                inputs = self._chat_inputs(
                    self._conversation(
                        clip,
                        prompt,
                        history,
                        files,
                        tell_time=self.local_time and mode == "conversation",
                    )
                )
        audio_tokens = int((inputs["input_ids"] == self.audio_token_id).sum())
        if audio_tokens == 0:
            raise EngineError(
                ErrorCode.AUDIO_DROPPED,
                f"the processor produced no audio tokens (id {self.audio_token_id}) for the clip",
            )
        return Prepared(
            inputs=inputs.to(self.device, dtype=self.dtype), generator=self.generator
        )

    def close(self) -> None:
        """Let go of the weights and release a GPU's cached blocks. No ``gc.collect()``:
        this runs on a worker thread, where a collection can finalise a GUI's objects off
        their thread (it hung a test run after the window's tests)."""
        import torch

        self.model = self.processor = self.generator = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
