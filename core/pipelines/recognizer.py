"""Speech recognition with Whisper (CTranslate2), sized to the clip.

faster-whisper's ``transcribe`` pads every clip to Whisper's 30 s window, so a 4 s question
costs as much as a 30 s one. CTranslate2's encoder also takes a shorter window: the clip
plus 1 s, at least 10 s, padded as faster-whisper pads (zero features), hears about as well
at a fraction of the time (the comparison is in docs/design-notes.md). Whisper, shown less than 30 s,
tends to keep talking after the speech ends, so decoding runs with timestamps and stops at
the clip's end: segments that start after the audio, and any token budget beyond a generous
rate of speech, are dropped. ``window: full`` keeps faster-whisper's standard path.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.pipelines.recognizer_device import (
    Placement,
    Wanted,
    compute_type_for,
    gpu_index,
    open_whisper,
    wanted_device,
)

SAMPLE_RATE = 16000
HOP = 160  # samples per feature frame
MAX_SECONDS = 30.0
# Room after the clip: Whisper needs to "hear" the speech end (half of this lost words).
TAIL_S = 1.0
MIN_WINDOW_S = 10.0
# The encoder's input is rounded up to this many seconds, so a few shapes repeat.
ROUND_S = 0.2
FRAMES_PER_S = SAMPLE_RATE // HOP
# A generous bound on tokens per second of speech (fast speech is ~4-5), plus a margin.
TOKENS_PER_S, TOKENS_BASE = 6, 20

Window = Literal["clip", "full"]


@dataclass(frozen=True)
class Evidence:
    """How sure Whisper was of a transcript, from its own decoding."""

    #: mean log-probability of the text tokens
    avg_logprob: float
    #: log-probability of the least likely word token (the word most likely misheard);
    #: on faster-whisper's own path, where tokens are not scored one by one, the average
    min_logprob: float
    #: the probability Whisper gave to "no speech" at the start
    no_speech_prob: float
    #: the text's length over its zlib-compressed length (high: it repeats itself)
    compression_ratio: float


def compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _log_softmax_at(logits: Any, token: int) -> float:
    row = np.asarray(logits, dtype=np.float64)
    top = row.max()
    return float(row[token] - top - np.log(np.exp(row - top).sum()))


#: how long a clip waits for a recogniser still loading in the background
LOAD_WAIT_S = 120.0


class Recognizer:
    def __init__(
        self,
        folder: Path,
        compute_type: str,
        language: str | None,
        threads: int,
        window: Window = "clip",
        beam_size: int = 1,
        load_now: bool = True,
        device: Wanted = "auto",
        gpu_index: int = 0,
        detect_among: Sequence[str] = (),
    ) -> None:
        """``load_now=False``: Whisper is loaded by a later ``load()`` (on a background
        thread, after the app is ready); a clip that comes first waits for it. ``device``:
        where it may run (``core.pipelines.recognizer_device``), on GPU ``gpu_index``.
        ``detect_among``: with ``language`` None, the languages detection may choose
        (empty: any)."""
        from faster_whisper.tokenizer import Tokenizer

        self._model_args = (str(folder), compute_type, threads)
        self.wanted: Wanted = device
        self.gpu_index = gpu_index
        #: where Whisper runs: known before loading on the CPU, else once loaded
        self.placement: Placement | None = (
            Placement("cpu", compute_type_for(compute_type, "cpu", set()))
            if device == "cpu"
            else None
        )
        self._whisper: Any = None
        self._loaded = threading.Event()
        self._load_error: BaseException | None = None
        self.language = language
        #: the language of the last clip heard: the setting's, or the one detected
        self.heard_language: str | None = language
        self.detect_among = frozenset(detect_among)
        self.window = window
        self.beam_size = beam_size
        #: the last clip's transcript and how sure Whisper was of it
        self.evidence: tuple[str, Evidence] | None = None
        self._tokenizer = Tokenizer
        # faster-whisper's path (window "full"): greedy by default; timestamps stay on, as
        # Whisper was trained with them.
        self.options = {
            "beam_size": beam_size,
            "condition_on_previous_text": False,
            "vad_filter": False,
            "language": language,
        }
        if load_now:
            self.load()

    def set_language(
        self, language: str | None, among: Sequence[str] | None = None
    ) -> None:
        """Hear the next clips in ``language`` (a Whisper code), or detect it on each clip
        (None), then among ``among`` when given (empty: any language)."""
        self.language = self.heard_language = language
        self.options = {**self.options, "language": language}
        if among is not None:
            self.detect_among = frozenset(among)

    def load(self) -> None:
        """Load Whisper (the first call does; later ones return at once)."""
        if self._loaded.is_set():
            return
        folder, compute_type, threads = self._model_args
        try:
            self._whisper, self.placement = open_whisper(
                folder, self.wanted, compute_type, threads, self.gpu_index
            )
        except BaseException as exc:
            self._load_error = exc
            raise
        finally:
            self._loaded.set()

    @property
    def whisper(self) -> Any:
        if not self._loaded.wait(LOAD_WAIT_S):
            raise RuntimeError(
                f"the speech recogniser did not finish loading in {LOAD_WAIT_S:.0f} s"
            )
        if self._load_error is not None:
            raise RuntimeError(
                f"the speech recogniser could not be loaded: {self._load_error}"
            )
        return self._whisper

    @classmethod
    def from_settings(
        cls,
        folder: Path,
        settings: Any,
        threads: int,
        load_now: bool = True,
        model_device: str = "auto",
    ) -> Recognizer:
        """The recogniser ``settings`` (the config's ``embedded`` section) describe, on
        the device they and ``model_device`` (``cpu``, ``cuda``...) allow."""
        return cls(
            folder,
            settings.recognizer_compute_type,
            settings.language,
            # One thread for the clip window: faster than two on a short clip, and a
            # second CTranslate2 OpenMP pool slows llama.cpp's decoding beside it.
            1 if settings.recognizer_window == "clip" else threads,
            window=settings.recognizer_window,
            beam_size=settings.recognizer_beam_size,
            load_now=load_now,
            device=wanted_device(settings.recognizer_device, model_device),
            gpu_index=gpu_index(model_device),
            detect_among=settings.auto_languages,
        )

    def segments(self, samples: np.ndarray) -> Iterator[tuple[str, int]]:
        """(text, token count) per recognised segment."""
        if self.window == "full" or len(samples) / SAMPLE_RATE + TAIL_S > MAX_SECONDS:
            # Longer than one window (audio.max_clip_s may allow it): faster-whisper's
            # own path reads the clip window by window instead of cutting it at 30 s.
            options = self.options
            if (
                self.language is None
                and self.detect_among
                and self.whisper.model.is_multilingual
            ):
                *_, likeliest = self.whisper.detect_language(samples)
                options = {**options, "language": self._among(likeliest)}
            found, info = self.whisper.transcribe(samples, **options)
            self.heard_language = info.language  # the setting's, or the one it detected
            texts, logprobs, no_speech = [], [], 0.0
            for segment in found:
                text = segment.text.strip()
                no_speech = max(no_speech, segment.no_speech_prob)
                if text:
                    texts.append(text)
                    logprobs.append(segment.avg_logprob)
                    yield text + " ", len(segment.tokens)
            heard = " ".join(texts)
            average = float(np.mean(logprobs)) if logprobs else 0.0
            self.evidence = (
                heard,
                Evidence(
                    average,
                    min(logprobs, default=0.0),
                    no_speech,
                    compression_ratio(heard),
                ),
            )
            return
        yield from self._clip_segments(samples)

    def transcribe(self, samples: np.ndarray) -> str:
        return " ".join(text.strip() for text, _ in self.segments(samples))

    def _clip_segments(self, samples: np.ndarray) -> Iterator[tuple[str, int]]:
        import ctranslate2

        seconds = len(samples) / SAMPLE_RATE
        window = min(
            np.ceil(max(seconds + TAIL_S, MIN_WINDOW_S) / ROUND_S) * ROUND_S,
            MAX_SECONDS,
        )
        frames = (
            int(window * FRAMES_PER_S) // 2 * 2
        )  # the encoder halves the frame count
        clip = self.whisper.feature_extractor(samples)[:, :frames]
        features = np.zeros((clip.shape[0], frames), np.float32)
        features[:, : clip.shape[1]] = clip
        model = self.whisper.model
        encoded = model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            to_cpu=False,
        )
        tokenizer = self._tokenizer_for(encoded)
        greedy = self.beam_size == 1
        result = model.generate(
            encoded,
            [tokenizer.sot_sequence],
            beam_size=self.beam_size,
            max_length=min(448, TOKENS_BASE + int(TOKENS_PER_S * seconds)),
            suppress_blank=True,
            suppress_tokens=[-1],
            return_scores=True,
            return_no_speech_prob=True,
            # each step's log-probabilities, to score every token (greedy only: a beam's
            # steps are not its tokens')
            return_logits_vocab=greedy,
        )[0]
        steps = result.logits[0] if greedy else None
        first_timestamp = tokenizer.timestamp_begin
        text_tokens: list[int] = []
        kept: list[int] = []  # the text tokens of the segments kept
        start: float | None = None
        for step, token in enumerate(result.sequences_ids[0]):
            if token < first_timestamp:
                text_tokens.append(step)
                continue
            at = (token - first_timestamp) * 0.02
            if start is None:
                start = at
                continue
            if start >= seconds - 0.1:  # begins after the speech: Whisper talking on
                text_tokens = []
                break
            yield from self._segment(tokenizer, result, text_tokens, kept, 2)
            text_tokens, start = [], None
        if text_tokens and (start is None or start < seconds - 0.1):
            yield from self._segment(tokenizer, result, text_tokens, kept, 1)
        ids = result.sequences_ids[0]
        heard = tokenizer.decode([ids[i] for i in kept]).strip()
        if steps is not None and kept:
            scores = [_log_softmax_at(steps[i], ids[i]) for i in kept]
            # the least likely word, not comma: an unsure comma changes no question
            worded = [
                score
                for i, score in zip(kept, scores, strict=True)
                if any(c.isalnum() for c in tokenizer.decode([ids[i]]))
            ]
            average, least = float(np.mean(scores)), min(worded or scores)
        else:  # a beam's: its length-normalised score stands for both
            average = least = float(result.scores[0])
        self.evidence = (
            heard,
            Evidence(
                average, least, float(result.no_speech_prob), compression_ratio(heard)
            ),
        )

    @staticmethod
    def _segment(tokenizer, result, steps: list[int], kept: list[int], extra: int):
        ids = result.sequences_ids[0]
        text = tokenizer.decode([ids[i] for i in steps]).strip()
        if text:
            kept.extend(steps)
            yield text + " ", len(steps) + extra

    def _tokenizer_for(self, encoded):
        multilingual = self.whisper.model.is_multilingual
        language = self.language or "en"
        if multilingual and self.language is None:
            likeliest = self.whisper.model.detect_language(encoded)[0]
            language = self._among([(token[2:-2], p) for token, p in likeliest])
        self.heard_language = language
        return self._tokenizer(
            self.whisper.hf_tokenizer,
            multilingual,
            task="transcribe",
            language=language,
        )

    def _among(self, likeliest: Sequence[tuple[str, float]]) -> str:
        """The likeliest language (codes with their probability, likeliest first) that
        detection may choose."""
        return next(
            (code for code, _p in likeliest if code in self.detect_among),
            likeliest[0][0],
        )

    def warm_up(self) -> float:
        """Run once on a short noise burst so the first real clip pays no first-call costs."""
        started = time.perf_counter()
        noise = (
            np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32)
            * 0.01
        )
        self.transcribe(noise)
        return time.perf_counter() - started

    def where(self) -> str:
        """For status lines: ``on cpu`` / ``on cuda``, or ``loading`` while it is not known."""
        if self.placement is None:
            return "loading"
        where = f"on {self.placement.device}, {self.placement.compute_type}"
        return (
            f"{where} (not on the GPU: see the note)"
            if self.placement.fallback
            else where
        )
