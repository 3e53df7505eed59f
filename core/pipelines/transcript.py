"""The steps shared by the pipelines that hear the clip with the recogniser and send text
to a chat model (the embedded default, and servers with ``input: text``): recognition with
its timing, the chat messages, and the usage a chat runtime reports."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from core.errors import EngineError, ErrorCode
from core.languages import language_name
from core.pipelines.base import Exchange, Prepared
from core.pipelines.clock import time_message
from core.pipelines.doubt import asking_reply, doubt
from core.pipelines.recognizer import Recognizer

NO_WORDS = "speech recognition found no words in the clip"


@dataclass(frozen=True)
class Heard:
    text: str
    #: the recognition's stage times and stats, for ``Prepared``
    stage_ms: dict[str, float]
    stats: dict[str, Any]


@dataclass(frozen=True)
class TextTurn:
    """How a recognised question is put to the chat model."""

    #: tell it the local date and time (``prompts.local_time``)
    local_time: bool = True
    #: reply to a doubtful transcript by asking (``embedded.misheard: ask``)
    ask_when_unsure: bool = True

    @classmethod
    def from_config(cls, config: Any) -> TextTurn:
        return cls(config.prompts.local_time, config.embedded.misheard == "ask")


def recognise(recognizer: Recognizer, samples: np.ndarray, heard: str | None) -> Heard:
    """What the clip says: ``heard`` when a preview already recognised it, else the
    recogniser's transcript. No words is the NO_SPEECH error."""
    started = time.perf_counter()
    known = heard is not None
    text = heard if known else recognizer.transcribe(samples)
    elapsed_ms = (time.perf_counter() - started) * 1000
    if not text:
        raise EngineError(ErrorCode.NO_SPEECH, NO_WORDS)
    stats: dict[str, Any] = {
        "recognised_while_recording": known,
        "language": recognizer.heard_language,
    }
    if recognizer.evidence is not None and recognizer.evidence[0] == text.strip():
        evidence = recognizer.evidence[1]
        stats.update(
            heard_logprob=round(evidence.avg_logprob, 3),
            heard_min_logprob=round(evidence.min_logprob, 3),
            no_speech_prob=round(evidence.no_speech_prob, 3),
            doubt=doubt(evidence),
        )
    return Heard(text, {"recognition_ms": round(elapsed_ms, 3)}, stats)


def heard_turn(
    recognizer: Recognizer,
    samples: np.ndarray,
    mode: str,
    prompt: str,
    history: Sequence[Exchange],
    heard: str | None,
    options: TextTurn = TextTurn(),
    now: datetime | None = None,
) -> tuple[Prepared, list[dict[str, str]] | None]:
    """A turn that starts with recognition: in transcribe mode the recognised segments
    pass through (no messages); in conversation, what was heard and the chat messages
    that ask for the answer (the caller says how they are answered). A doubtful
    transcript (``core.pipelines.doubt``) gets, unless ``options`` say answer, a reply that
    says what was heard and asks (no messages)."""
    if mode == "transcribe":
        return Prepared(pieces=recognizer.segments(samples)), None
    said = recognise(recognizer, samples, heard)
    prepared = Prepared(heard=said.text, stage_ms=said.stage_ms, stats=said.stats)
    if options.ask_when_unsure and said.stats.get("doubt"):
        reply = asking_reply(said.text.strip(), said.stats.get("language"))
        prepared.stats["asked"] = True  # the reply asks; nothing was generated
        prepared.pieces = [(reply, 0)]
        prepared.remember = False
        return prepared, None
    return prepared, chat_messages(
        prompt,
        history,
        said.text,
        said.stats.get("language"),
        local_time=options.local_time,
        now=now,
    )


def chat_messages(
    prompt: str,
    history: Sequence[Exchange],
    heard: str,
    language: str | None = None,
    *,
    local_time: bool = True,
    now: datetime | None = None,
) -> list[dict[str, str]]:
    """The system prompt, the remembered turns as text, the local time (when
    ``local_time``) and the language to answer in (when the question was not in English),
    and what was just said."""
    messages = [{"role": "system", "content": prompt}]
    for turn in history:
        messages.append({"role": "user", "content": turn.user_text or ""})
        messages.append({"role": "assistant", "content": turn.answer})
    notes = [time_message(now)["content"]] if local_time else []
    if language and language != "en":
        name = language_name(language)
        notes.append(f"The question is in {name}: answer in {name}.")
    if notes:
        messages.append({"role": "system", "content": " ".join(notes)})
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
