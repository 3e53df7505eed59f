"""Answering through an OpenAI-compatible server, behind the engine's ``Pipeline`` protocol.

Two ways to send a turn, chosen per server in the config:

- ``input: text`` (any chat server): the embedded recogniser hears the clip here, the
  transcript goes as the user's message, and ``heard`` is reported as for the embedded
  default (with recognition while the key is still held).
- ``input: audio`` (servers that hear audio: vLLM serving Voxtral or Qwen2-Audio, llama.cpp's
  server with an audio projector): the clip goes as an ``input_audio`` part (base64 WAV) of
  the user's message, with the mode's prompt, as the in-process audio models get it.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import soundfile as sf

from core.config import Config, ServerSettings
from core.models.devices import physical_cores, recognizer_target
from core.models.packaged import WHISPER_BASE, assemble, cache_dir
from core.pipelines.base import Exchange, PipelineBase, Prepared, Progress, typed
from core.pipelines.recognizer import Recognizer
from core.pipelines.server.client import CONNECT_TIMEOUT_S, ServerChat
from core.pipelines.server.failures import MAX_RETRY_DELAY_S
from core.pipelines.transcript import TextTurn, heard_turn, read_usage

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


def wav_base64(samples: np.ndarray, rate: int = SAMPLE_RATE) -> str:
    """16-bit PCM WAV, base64: what OpenAI-style ``input_audio`` parts carry."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def audio_part(samples: np.ndarray) -> dict[str, Any]:
    return {
        "type": "input_audio",
        "input_audio": {"data": wav_base64(samples), "format": "wav"},
    }


def openai_options(generation: Any) -> dict[str, Any]:
    """The config's generation settings as OpenAI request fields (repetition_penalty has
    no standard field: set it per server in ``options`` under the server's own name)."""
    options: dict[str, Any] = {"max_tokens": generation.max_new_tokens}
    if generation.do_sample:
        options.update(temperature=generation.temperature, top_p=generation.top_p)
    else:
        options["temperature"] = 0.0  # greedy, on every server that honours it
    return options


class ServerPipeline(PipelineBase):
    sample_rate = SAMPLE_RATE
    turn = TextTurn()

    def __init__(
        self,
        chat: ServerChat,
        options: dict[str, Any],
        recognizer: Recognizer | None = None,
    ) -> None:
        self.chat = chat
        self.options = options
        self.recognizer = recognizer  # text-in only
        self.hears = recognizer is not None
        self.notice = (
            recognizer.placement.fallback
            if recognizer and recognizer.placement
            else None
        )
        #: why the server did not answer when loaded (None: it did), for status lines
        self.problem = None
        settings = chat.settings
        self.description = (
            f"server {chat.name}: {settings.model or 'its model'} at {settings.url}, "
            f"{settings.input} in"
        )

    @classmethod
    def load(
        cls,
        config: Config,
        name: str,
        settings: ServerSettings,
        progress: Progress | None = None,
    ) -> ServerPipeline:
        chat = ServerChat(name, settings)
        recognizer = None
        try:
            if settings.input == "text":
                whisper_dir = assemble(
                    WHISPER_BASE, cache_dir(config.embedded), progress
                )
                if progress:
                    progress("Loading the speech recogniser", None)
                recognizer = Recognizer.from_settings(
                    whisper_dir,
                    config.embedded,
                    config.embedded.threads or physical_cores(),
                    model_device=recognizer_target(config.model.device),
                )
                recognizer.warm_up()
            if progress:
                progress(f"Checking {name} at {settings.url}", None)
            problem = chat.probe()
        except BaseException:
            chat.close()
            raise
        # Not a load failure: the server may come up later, and each turn says why not.
        pipeline = cls(
            chat, openai_options(config.chunked_response.generation), recognizer
        )
        pipeline.problem = problem
        pipeline.turn = TextTurn.from_config(config)
        if problem:
            log.info("server %s is not answering yet: %s", name, problem)
        return pipeline

    def prepare(
        self,
        samples: np.ndarray,
        mode: str,
        prompt: str,
        history: Sequence[Exchange],
        heard: str | None = None,
    ) -> Prepared:
        if self.recognizer is None:
            prepared = Prepared(silence_limit_s=self._silence_limit_s())
            messages = self._audio_messages(samples, prompt, history)
            prepared.produce = self._producer(messages, prepared)
            return prepared
        prepared, messages = heard_turn(
            self.recognizer, samples, mode, prompt, history, heard, self.turn
        )
        if messages is not None:
            prepared.silence_limit_s = self._silence_limit_s()
            prepared.produce = self._producer(messages, prepared)
        return prepared

    def prepare_text(
        self, text: str, prompt: str, history: Sequence[Exchange]
    ) -> Prepared:
        """A typed question: text in, whatever the server hears."""
        if self.recognizer is not None:
            return super().prepare_text(text, prompt, history)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": prompt},
            *self._remembered(history),
            {"role": "user", "content": text},
        ]
        prepared = Prepared(silence_limit_s=self._silence_limit_s())
        prepared.produce = self._producer(messages, prepared)
        typed(prepared, text)
        return prepared

    def _silence_limit_s(self) -> float:
        """Past the client's own limits (connect, one busy retry, then ``timeout_s`` of
        silence), so that its error, which names ``timeout_s``, is the one the user sees."""
        return (
            self.chat.settings.timeout_s + CONNECT_TIMEOUT_S + MAX_RETRY_DELAY_S + 5.0
        )

    def preview(
        self, samples: np.ndarray, prompt: str, history: Sequence[Exchange]
    ) -> str | None:
        """Text in: the clip so far, recognised while the key is held."""
        if self.recognizer is None:
            return None
        return self.recognizer.transcribe(samples) or None

    @staticmethod
    def _audio_messages(
        samples: np.ndarray, prompt: str, history: Sequence[Exchange]
    ) -> list[dict[str, Any]]:
        messages = ServerPipeline._remembered(history)
        messages.append(
            {
                "role": "user",
                "content": [audio_part(samples), {"type": "text", "text": prompt}],
            }
        )
        return messages

    @staticmethod
    def _remembered(history: Sequence[Exchange]) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for turn in history:
            if turn.user_audio is not None:
                said: list[dict[str, Any]] = [audio_part(turn.user_audio)]
            else:
                said = [{"type": "text", "text": turn.user_text or ""}]
            messages.append({"role": "user", "content": said})
            messages.append({"role": "assistant", "content": turn.answer})
        return messages

    def _producer(self, messages: list[dict[str, Any]], prepared: Prepared):
        def produce(emit, cancel) -> None:
            reported = self.chat.stream(messages, self.options, emit, cancel)
            read_usage(reported, prepared.stage_ms, prepared.stats)

        return produce

    def close(self) -> None:
        self.chat.close()
