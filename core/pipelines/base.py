"""What the engine drives: a pipeline turns a prepared clip into model inputs (or text).

Two kinds exist: an audio-language model that hears the clip itself (``core.pipelines.audio_lm.pipeline``), and
the embedded two-stage pipeline, speech recognition then a chat model (``core.pipelines.embedded``).
The engine owns everything else: validation, the speech gate, streaming, chunking, timing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

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


@dataclass
class Prepared:
    """A turn ready to stream: model inputs for ``generate``, or text pieces to pass through."""

    inputs: Any | None = None
    #: (text, token count) pieces produced lazily while iterating, e.g. recognised segments
    pieces: Iterable[tuple[str, int]] | None = None
    #: or text produced by the pipeline's own runtime (e.g. llama.cpp)
    produce: Producer | None = None
    #: what the pipeline recognised the user saying, when it knows
    heard: str | None = None
    #: how long the text may go silent before the turn is a timeout, when the producer
    #: keeps a longer limit of its own (a server's ``timeout_s``); None: the config's
    #: ``chunked_response.streamer_timeout_s``
    silence_limit_s: float | None = None
    #: per-stage timings in ms, reported in the final item's ``timings``
    stage_ms: dict[str, float] = field(default_factory=dict)


class Pipeline(Protocol):
    #: for status lines: model name(s) and device
    description: str
    #: the rate clips are resampled to before ``prepare``
    sample_rate: int
    #: whether ``prepare`` reports what it heard (``Prepared.heard``) in conversation mode:
    #: it recognises the speech first
    hears: bool
    #: the generating model and its tokenizer (used by the engine's streamer)
    model: Any
    tokenizer: Any

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

    # Optional: ``preview(samples, prompt, history) -> str | None`` recognises a clip that is
    # still being recorded and prepares the model for it (``StreamingEngine.preview``).

    def remember(
        self, samples: np.ndarray, prepared: Prepared, answer: str
    ) -> Exchange:
        """The history entry for a finished turn."""
        ...
