"""The steps shared by the pipelines that hear the clip with the recogniser and send text
to a chat model (the embedded default, and servers with ``input: text``): recognition with
its timing, the chat messages, and the usage a chat runtime reports."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import EngineError, ErrorCode
from core.pipelines.base import Exchange, Prepared
from core.pipelines.clock import time_message
from core.pipelines.recognizer import Recognizer

NO_WORDS = "speech recognition found no words in the clip"


@dataclass(frozen=True)
class Heard:
    text: str
    #: the recognition's stage times and stats, for ``Prepared``
    stage_ms: dict[str, float]
    stats: dict[str, Any]


def recognise(recognizer: Recognizer, samples: np.ndarray, heard: str | None) -> Heard:
    """What the clip says: ``heard`` when a preview already recognised it, else the
    recogniser's transcript. No words is the NO_SPEECH error."""
    started = time.perf_counter()
    known = heard is not None
    text = heard if known else recognizer.transcribe(samples)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if not text:
        raise EngineError(ErrorCode.NO_SPEECH, NO_WORDS)
    return Heard(
        text,
        {"recognition_ms": round(elapsed_ms, 3)},
        {"recognised_while_recording": known, "language": recognizer.heard_language},
    )


def heard_turn(
    recognizer: Recognizer,
    samples: np.ndarray,
    mode: str,
    prompt: str,
    history: Sequence[Exchange],
    heard: str | None,
) -> tuple[Prepared, list[dict[str, str]] | None]:
    """A turn that starts with recognition: in transcribe mode the recognised segments
    pass through (no messages); in conversation, what was heard and the chat messages
    that ask for the answer (the caller says how they are answered)."""
    if mode == "transcribe":
        return Prepared(pieces=recognizer.segments(samples)), None
    said = recognise(recognizer, samples, heard)
    prepared = Prepared(heard=said.text, stage_ms=said.stage_ms, stats=said.stats)
    return prepared, chat_messages(
        prompt, history, said.text, said.stats.get("language")
    )


# Whisper's codes for the languages most often spoken to it; others are named by code
LANGUAGE_NAMES = {
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "tr": "Turkish",
    "sv": "Swedish",
    "ja": "Japanese",
    "zh": "Chinese",
    "ko": "Korean",
    "ar": "Arabic",
    "hi": "Hindi",
}


def chat_messages(
    prompt: str,
    history: Sequence[Exchange],
    heard: str,
    language: str | None = None,
) -> list[dict[str, str]]:
    """The system prompt, the remembered turns as text, the local time (and the language
    to answer in, when the question was not in English), and what was just said."""
    messages = [{"role": "system", "content": prompt}]
    for turn in history:
        messages.append({"role": "user", "content": turn.user_text or ""})
        messages.append({"role": "assistant", "content": turn.answer})
    now = time_message()
    if language and language != "en":
        name = LANGUAGE_NAMES.get(language, f"the language with code {language!r}")
        now["content"] += f" The question is in {name}: answer in {name}."
    messages.append(now)
    messages.append({"role": "user", "content": heard})
    return messages


def read_usage(
    reported: dict[str, Any], stage_ms: dict[str, float], stats: dict[str, Any]
) -> None:
    """The OpenAI-style ``usage`` and llama.cpp's ``timings`` of a streamed answer, into
    the turn's stage times and stats (what the runtime did not report is left out)."""
    usage = reported.get("usage") or {}
    timings = reported.get("timings") or {}
    if usage:
        stats["prompt_tokens"] = usage.get("prompt_tokens")
        if usage.get("completion_tokens") is not None:
            stats["completion_tokens"] = usage["completion_tokens"]
        details = usage.get("prompt_tokens_details") or {}
        if details.get("cached_tokens") is not None:
            stats["cached_prompt_tokens"] = details["cached_tokens"]
    if timings.get("prompt_ms") is not None:
        stage_ms["prefill_ms"] = round(timings["prompt_ms"], 3)
    if timings.get("predicted_per_second") is not None:
        stats["server_tokens_per_s"] = round(timings["predicted_per_second"], 3)
