"""What the engine drives: a pipeline turns a prepared clip into model inputs (or text).

Three ways of answering implement it: an audio-language model that hears the clip itself
(``core.pipelines.audio_lm``), the embedded default, speech recognition then a chat model
(``core.pipelines.embedded``), and an OpenAI-compatible server (``core.pipelines.server``).
The engine owns everything else: validation, the speech gate, streaming, chunking, timing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from core.pipelines.recognizer import Recognizer

#: text a pipeline makes itself (not through ``model.generate``): called on the generation
#: thread with ``emit(text, tokens)`` and the cancel event, which it checks at every token
Producer = Callable[[Callable[[str, int], None], threading.Event], None]

#: ``progress(message, fraction or None)``: first-use preparation and loading, from a worker thread
Progress = Callable[[str, float | None], None]


@dataclass(frozen=True)
class Exchange:
    """One remembered turn: what the user said (text, or the clip when no text is known)."""

    user_text: str | None
    user_audio: np.ndarray | None
    answer: str


@dataclass(frozen=True)
class Generator:
    """A transformers model in this process and its tokenizer: what ``generate`` runs."""

    model: Any
    tokenizer: Any


@dataclass
class Prepared:
    """A turn ready to stream, in exactly one of three forms: model inputs for
    ``generator``, text pieces to pass through, or a producer of text."""

    #: model inputs for ``generator.model.generate``
    inputs: Any | None = None
    generator: Generator | None = None
    #: (text, token count) pieces produced lazily while iterating, e.g. recognised segments
    pieces: Iterable[tuple[str, int]] | None = None
    #: or text produced by the pipeline's own runtime (llama.cpp, a server)
    produce: Producer | None = None
    #: what the pipeline recognised the user saying, when it knows
    heard: str | None = None
    #: how long the text may go silent before the turn is a timeout, when the producer
    #: keeps a longer limit of its own (a server's ``timeout_s``); None: the config's
    #: ``chunked_response.streamer_timeout_s``
    silence_limit_s: float | None = None
    #: how long each stage took, in ms; reported in the final item's ``timings``
    stage_ms: dict[str, float] = field(default_factory=dict)
    #: counts and flags about the turn (prompt tokens, cached tokens, recognised while
    #: recording), reported beside the stage times in ``timings``; a producer may add to it
    stats: dict[str, Any] = field(default_factory=dict)
    #: whether the finished turn joins the memory (not a reply asking to hear it again:
    #: the question said next replaces it)
    remember: bool = True


class Pipeline(Protocol):
    """Everything the engine and the window may ask of a pipeline; :class:`PipelineBase`
    gives the optional parts their defaults."""

    #: for status lines: model name(s) and device
    description: str
    #: the rate clips are resampled to before ``prepare``
    sample_rate: int
    #: whether ``prepare`` reports what it heard (``Prepared.heard``) in conversation mode:
    #: it recognises the speech first, and ``preview`` can do so while the key is held
    hears: bool
    #: why the model does not answer although it loaded (a server that is down), or None
    problem: str | None
    #: something the user should know about how it runs (speech recognition fell back to
    #: the CPU, and why), or None
    notice: str | None
    #: whether whoever closes it should run ``gc.collect()`` afterwards, on its own thread
    #: (torch modules keep weights in reference cycles)
    collect_after_close: bool
    #: the speech recogniser it hears with, or None when its model hears the clip itself
    recognizer: Recognizer | None

    def prepare(
        self,
        samples: np.ndarray,
        mode: str,
        prompt: str,
        history: Sequence[Exchange],
        heard: str | None = None,
    ) -> Prepared:
        """Blocking; runs on the engine's worker thread. ``heard``: the clip's transcript when
        already known (from a preview), so a recognising pipeline need not recognise again."""
        ...

    def preview(
        self, samples: np.ndarray, prompt: str, history: Sequence[Exchange]
    ) -> str | None:
        """The transcript of a clip still being recorded, with the model prepared for it
        (``StreamingEngine.preview``); None when nothing was heard. Called only when
        ``hears``."""
        ...

    def prepare_text(
        self, text: str, prompt: str, history: Sequence[Exchange]
    ) -> Prepared:
        """Blocking, like ``prepare``: a typed question in conversation mode."""
        ...

    def remember(
        self, samples: np.ndarray, prepared: Prepared, answer: str
    ) -> Exchange:
        """The history entry for a finished turn."""
        ...

    def close(self) -> None:
        """Let go of the model and whatever it holds (threads, a connection)."""
        ...


class PipelineBase:
    """The optional parts of :class:`Pipeline`, for a pipeline that has no use for them."""

    hears = False
    problem: str | None = None
    notice: str | None = None
    collect_after_close = False
    recognizer: Recognizer | None = None

    def preview(
        self, samples: np.ndarray, prompt: str, history: Sequence[Exchange]
    ) -> str | None:
        return None

    def prepare_text(
        self, text: str, prompt: str, history: Sequence[Exchange]
    ) -> Prepared:
        """For a pipeline that recognises speech: the typed words as if they were heard."""
        prepared = self.prepare(  # type: ignore[attr-defined]
            np.zeros(0, np.float32), "conversation", prompt, history, heard=text
        )
        typed(prepared, text)
        return prepared

    def remember(
        self, samples: np.ndarray, prepared: Prepared, answer: str
    ) -> Exchange:
        """By default the words heard, else the clip itself."""
        if prepared.heard is not None:
            return Exchange(user_text=prepared.heard, user_audio=None, answer=answer)
        return Exchange(user_text=None, user_audio=samples, answer=answer)

    def close(self) -> None:
        return None


def typed(prepared: Prepared, text: str) -> None:
    """Mark a prepared turn as typed: its words are the question, nothing was recognised."""
    prepared.heard = text
    for key in ("recognised_while_recording", "doubt", "no_speech_prob"):
        prepared.stats.pop(key, None)
    prepared.stage_ms.pop("recognition_ms", None)
    prepared.stats["typed"] = True
