"""The streaming engine: one push-to-talk clip in, chunks of words out.

The path of a clip, top to bottom (each step is a method below, in this order):

1. ``_check_call``      - the engine is loaded and the mode exists
2. ``_prepare_audio``   - any array/tensor -> mono float32 at the processor's rate
3. ``_audible``         - energy gate, then Silero VAD for quiet clips (brought to a
                          normal level): silence never reaches the model
4. ``_prepare_turn``    - the pipeline turns the clip (and remembered turns) into model
                          inputs: an audio model's processor, or recognition + chat template
5. ``_start_generation``- ``model.generate`` in a thread with a streamer and a stop switch
6. ``_stream_chunks``   - streamer text -> N-word chunks -> items, then the final item
7. ``_remember``        - the finished turn joins the conversation memory

Every item is a plain dict (``core.items.ChunkItem``; docs/engine.md lists the fields).
Exactly one item per call is final.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from typing import Any, TypeVar

import numpy as np

from core import audio, voice_activity
from core.chunking import WordChunker
from core.config import MODES, Config
from core.errors import (
    EngineError,
    ErrorCode,
    is_out_of_memory,
)
from core.items import ChunkItem, Turn
from core.languages import check_language
from core.pipelines.base import Exchange, Generator, Pipeline, Prepared, Progress
from core.pipelines.loading import load_pipeline
from core.streaming.generation import (
    GenerationRun,
    LoopStreamer,
    StreamTimeout,
    passthrough_work,
    producer_work,
)
from core.streaming.priority import engine_thread

log = logging.getLogger(__name__)
T = TypeVar("T")


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Speech after a preview's part of the clip beyond this means more was said (a 40 ms
# click or breath does not).
TAIL_SPEECH_S = 0.04
# Silero's least speech for a clip the level gate found silent: a click or a cough can give
# it a frame or two
QUIET_SPEECH_MIN_S = 0.3
# where a quiet clip's loudest 20 ms frame is brought before the model hears it
QUIET_TARGET_DBFS = -20.0
# A typed question longer than a few pages is a paste gone wrong, not a question.
MAX_TYPED_CHARS = 8000


def _signal_handlers() -> dict[int, Any]:
    return {number: signal.getsignal(number) for number in _SIGNALS}


def _restore_signal_handlers(handlers: dict[int, Any]) -> None:
    """A native runtime may install its own SIGINT/SIGTERM handlers while loading (llama.cpp's
    server does); put Python's back, so Ctrl+C still reaches the application."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers, and only there do they run
    for number, handler in handlers.items():
        if handler is not None:
            signal.signal(number, handler)


class StreamingEngine:
    """Loads the configured pipeline once and answers clips as async streams of chunk dicts."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._pipeline: Pipeline | None = None
        self._executor: ThreadPoolExecutor | None = None  # preparation and loading
        self._generator: ThreadPoolExecutor | None = None  # generate() and recognition
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._history: deque[Exchange] = deque(maxlen=config.memory.turns)
        # The latest preview: the clip so far (as the caller gave it), its rate, transcript.
        self._preview: tuple[np.ndarray, int, str] | None = None
        self._preview_task: asyncio.Future | None = None
        self._owns_pipeline = True  # loaded here, so closed here

    @classmethod
    def from_pipeline(cls, config: Config, pipeline: Pipeline) -> StreamingEngine:
        """An engine around an already-built pipeline (e.g. a model constructed in memory).
        The caller keeps it: ``close()`` lets go of it without closing it."""
        engine = cls(config)
        engine._pipeline = pipeline
        engine._owns_pipeline = False
        return engine

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def is_initialized(self) -> bool:
        return self._pipeline is not None

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            raise RuntimeError("StreamingEngine.initialize() has not completed")
        return self._pipeline

    @property
    def language(self) -> str | None:
        """The language clips are heard in (a Whisper code), None when it is detected on
        every clip or the model hears the clip itself."""
        recognizer = self.pipeline.recognizer
        return recognizer.language if recognizer is not None else None

    def set_language(
        self, language: str | None, among: Sequence[str] | None = None
    ) -> bool:
        """Hear the next clips in ``language`` (a Whisper code; None or "auto": detect it on
        every clip, among the codes of ``among`` when given: empty is any language, None
        keeps the last ones set, first ``embedded.auto_languages``). False when the model
        hears the clip itself, so there is nothing to set; a code Whisper does not know is
        a ValueError that lists what is accepted."""
        recognizer = self.pipeline.recognizer
        if recognizer is None:
            return False
        auto = language is None or language == "auto"
        chosen = None if auto else check_language(language)
        codes = None if among is None else [check_language(code) for code in among]
        recognizer.set_language(chosen, codes)
        return True

    def reports_heard(self, mode: str) -> bool:
        """Whether a turn in ``mode`` reports what was heard (each item's ``heard``)."""
        return mode == "conversation" and self.pipeline.hears

    async def initialize(self, progress: Progress | None = None) -> None:
        """Load the pipeline in a worker thread; the event loop keeps running.

        ``progress(message, fraction_or_None)`` reports first-use preparation and loading; it is
        called from the worker thread. That thread, and the models' threads, run at a lower
        priority than the caller, and numpy's BLAS stays single-threaded (core/streaming/priority.py).
        """
        if self._pipeline is not None:
            return
        started = time.perf_counter()
        handlers = _signal_handlers()
        # A load cancelled part-way still finishes (it can't be interrupted); what it
        # loaded is then closed, not left holding memory nobody can reach.
        self._pipeline = await self._offload(
            load_pipeline, self.config, progress, orphan=_close_pipeline
        )
        self._owns_pipeline = True
        _restore_signal_handlers(handlers)
        self._generation_thread()
        log.info(
            "engine ready: %s in %.1f s",
            self._pipeline.description,
            time.perf_counter() - started,
        )

    async def close(self) -> None:
        """Release the model and the worker thread. The engine can be initialized again."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None and self._owns_pipeline:
            await asyncio.get_running_loop().run_in_executor(
                None, _close_pipeline, pipeline
            )
        # Their threads are idle unless a turn is mid-way: streams stop generation on exit.
        # Joined off the event loop: a load still finishing must not freeze a window.
        for executor in (self._executor, self._generator):
            if executor is not None:
                await asyncio.to_thread(executor.shutdown, True)
        self._executor = self._generator = None

    async def _offload(
        self,
        fn: Callable[..., T],
        *args: Any,
        orphan: Callable[[T], None] | None = None,
    ) -> T:
        """Run blocking work on the engine's worker thread. If the caller is cancelled, wait for
        the work to finish anyway, so that whatever it cleans up (a temp file) is cleaned up."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="ptt-engine",
                initializer=engine_thread,
            )
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            # The caller is gone: its error is nobody's to report (exception() marks it
            # seen), and its result is let go (``orphan``) on the worker.
            if (
                not future.cancelled()
                and future.exception() is None
                and orphan is not None
            ):
                self._executor.submit(orphan, future.result())
            raise

    def _generation_thread(self) -> ThreadPoolExecutor:
        """The one thread every generation runs on, started now so thread counts stay flat.
        At the caller's priority, unlike the loading thread: it holds the GIL for each word
        it hands over (llama.cpp's and a server's decoding happen elsewhere)."""
        if self._generator is None:
            self._generator = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="ptt-generate"
            )
            self._generator.submit(lambda: None).result()
        return self._generator

    def _generation_lock(self) -> asyncio.Lock:
        # One generation at a time per engine (documented): callers queue, answers never mix.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    # -- conversation memory -----------------------------------------------------------------

    @property
    def history(self) -> tuple[Exchange, ...]:
        """The remembered turns, oldest first (at most ``memory.turns``)."""
        return tuple(self._history)

    def clear_history(self) -> None:
        """Forget the conversation (a window's "new conversation")."""
        self._history.clear()

    def restore_history(self, exchanges: Sequence[Exchange]) -> None:
        """Remember a reopened conversation's turns in place of the current ones (the
        latest ``memory.turns`` of them)."""
        self._history.clear()
        self._history.extend(exchanges)

    # -- the public calls --------------------------------------------------------------------

    async def process_realtime_chunk_streaming(
        self,
        audio_data: Any,
        chunk_id: Any,
        mode: str = "conversation",
        *,
        sample_rate: int | None = None,
    ) -> AsyncIterator[ChunkItem]:
        """Stream the answer to one clip as chunk dicts; the last one has ``is_final=True``."""

        async def read(turn: Turn) -> tuple[np.ndarray, Callable[[], Prepared]]:
            rate = self.config.audio.sample_rate if sample_rate is None else sample_rate
            samples = await self._offload(self._prepare_audio, audio_data, rate)
            samples, turn.quiet_dbfs = await self._offload(
                self._audible, samples, chunk_id
            )
            heard = await self._previewed_transcript(audio_data, rate, mode)
            return samples, lambda: self._prepare_turn(samples, mode, heard)

        # closed with this generator, at once: its finally stops generation and remembers
        async with aclosing(self._answer(Turn(chunk_id, mode), read)) as items:
            async for item in items:
                yield item

    async def process_text_streaming(
        self, text: Any, chunk_id: Any
    ) -> AsyncIterator[ChunkItem]:
        """Stream the answer to a typed question, as ``process_realtime_chunk_streaming``
        does for a clip: the same items, memory and errors (conversation mode)."""

        async def read(turn: Turn) -> tuple[np.ndarray, Callable[[], Prepared]]:
            question = typed_question(text)
            prompt = self.config.prompt_for("conversation")
            return np.zeros(0, np.float32), lambda: self.pipeline.prepare_text(
                question, prompt, self.history
            )

        async with aclosing(
            self._answer(Turn(chunk_id, "conversation"), read)
        ) as items:
            async for item in items:
                yield item

    async def _answer(
        self,
        turn: Turn,
        read: Callable[[Turn], Any],
    ) -> AsyncIterator[ChunkItem]:
        """One turn from its input to its final item; every failure is an item. ``read``
        checks the input and returns the samples to remember and what prepares the model
        (run on the worker, under the generation lock)."""
        chunk_id = turn.chunk_id
        log.info("chunk_id=%s start mode=%s", chunk_id, turn.mode)
        run: GenerationRun | None = None
        samples: np.ndarray | None = None
        prepared: Prepared | None = None
        try:
            self._check_call(turn.mode)
            samples, prepare = await read(turn)
            async with self._generation_lock():
                prepared = await self._offload(prepare)
                turn.heard = prepared.heard
                prepared_ms = turn.ms_since_start()
                run = self._start_generation(prepared, chunk_id)
                async for item in self._stream_chunks(run, turn, prepared, prepared_ms):
                    yield item
        except EngineError as exc:
            log.warning("chunk_id=%s error %s: %s", chunk_id, exc.code, exc.detail)
            yield turn.error(exc.code, exc.detail)
        except StreamTimeout as exc:
            log.error("chunk_id=%s error timeout: %s", chunk_id, exc)
            yield turn.error(ErrorCode.TIMEOUT, str(exc))
        except Exception as exc:  # the stream ends in an error item, never a raise
            code = (
                ErrorCode.OUT_OF_MEMORY
                if is_out_of_memory(exc)
                else ErrorCode.GENERATION_FAILED
            )
            log.exception("chunk_id=%s error %s", chunk_id, code)
            yield turn.error(code, f"{type(exc).__name__}: {exc}")
        finally:
            if run is not None:
                await run.stop()
            if not turn.final_sent:
                log.info(
                    "chunk_id=%s closed by the consumer after %d item(s)",
                    chunk_id,
                    turn.next_index,
                )
            if prepared is not None and samples is not None:
                self._remember(samples, prepared, turn)

    async def preview(
        self, audio_data: Any, *, sample_rate: int | None = None
    ) -> str | None:
        """While push-to-talk is still held: recognise the clip so far and prepare the model
        for it. A conversation call that follows on the same recording, with nothing but
        silence after the previewed part, then skips recognition and most of the prefill.

        Any number of calls may be made; each replaces the last. Returns the transcript so
        far, or None when the pipeline has nothing to gain or the clip can't be used yet.
        Never raises for a bad or silent clip: the final call reports those."""
        if self._pipeline is None or not self._pipeline.hears:
            return None  # only a recognising pipeline has anything to gain
        rate = self.config.audio.sample_rate if sample_rate is None else sample_rate
        task = asyncio.ensure_future(self._run_preview(audio_data, rate))
        self._preview_task = task
        return await asyncio.shield(task)

    async def _run_preview(self, audio_data: Any, rate: int) -> str | None:
        try:
            raw = audio.to_mono_float32(audio_data)
            samples = await self._offload(self._prepare_audio, raw, rate)
            # the final call's gate and level step, so quiet speech gets a head start too
            samples, _quiet = await self._offload(self._audible, samples, "preview")
            heard = await self._offload(
                self.pipeline.preview,
                samples,
                self.config.prompt_for("conversation"),
                self.history,
            )
        except Exception as exc:  # noqa: BLE001 - a preview is only ever a head start
            log.debug("preview skipped: %s", exc)
            return None
        if heard:
            self._preview = (raw, rate, heard)
        return heard

    async def _previewed_transcript(
        self, audio_data: Any, rate: int, mode: str
    ) -> str | None:
        """The preview's transcript, when the clip is the previewed recording plus silence."""
        task, self._preview_task = self._preview_task, None
        if task is not None and not task.done():
            await asyncio.wait([task])  # its recognition is this clip's head start
        preview, self._preview = self._preview, None
        if preview is None or mode != "conversation":
            return None
        raw, preview_rate, heard = preview
        clip = audio.to_mono_float32(audio_data)
        if preview_rate != rate or len(clip) < len(raw):
            return None
        if not np.array_equal(clip[: len(raw)], raw):
            return None  # another recording
        tail = clip[len(raw) :]
        if (
            len(tail)
            and audio.estimate_speech(
                tail, rate, self.config.audio.silence_threshold_dbfs
            ).speech_s
            > TAIL_SPEECH_S
        ):
            return None  # more was said after the preview: recognise the whole clip
        return heard

    async def process_realtime_chunk(
        self,
        audio_data: Any,
        chunk_id: Any,
        mode: str = "conversation",
        *,
        sample_rate: int | None = None,
    ) -> ChunkItem:
        """The whole answer as one dict (the final item, with ``text`` holding every word)."""
        stream = self.process_realtime_chunk_streaming(
            audio_data, chunk_id, mode, sample_rate=sample_rate
        )
        texts: list[str] = []
        async with aclosing(stream):
            async for item in stream:
                if item["text"]:
                    texts.append(item["text"])
                if item["is_final"]:
                    result = dict(item, text=" ".join(texts), chunk_index=0)
                    result["word_count"] = len(result["text"].split())
                    return result
        raise AssertionError(
            "the stream ended without a final item"
        )  # pragma: no cover

    # -- the path, step by step --------------------------------------------------------------

    def _check_call(self, mode: str) -> None:
        if not isinstance(mode, str) or mode not in MODES:
            raise EngineError(
                ErrorCode.INVALID_MODE,
                f"unknown mode {mode!r}; use one of: {', '.join(MODES)}",
            )
        if self._pipeline is None:
            raise EngineError(
                ErrorCode.NOT_INITIALIZED, "call and await initialize() first"
            )

    def _prepare_audio(self, audio_data: Any, sample_rate: Any) -> np.ndarray:
        limits = self.config.audio
        return audio.prepare_clip(
            audio_data,
            sample_rate,
            self.pipeline.sample_rate,
            limits.min_clip_s,
            limits.max_clip_s,
        )

    def _audible(
        self, samples: np.ndarray, chunk_id: Any
    ) -> tuple[np.ndarray, float | None]:
        """The clip as the model should hear it, and its loudest level when it came too
        quiet (``_detect_speech``); raises ``no_speech`` for a clip without speech."""
        quiet_dbfs = self._detect_speech(samples, chunk_id)
        if quiet_dbfs is not None:
            # as an input gain would: Whisper repeats itself on speech this quiet
            samples = audio.with_peak_at(samples, quiet_dbfs, QUIET_TARGET_DBFS)
        return samples, quiet_dbfs

    def _detect_speech(self, samples: np.ndarray, chunk_id: Any) -> float | None:
        """Raise ``no_speech`` for a clip without speech; return the clip's loudest level
        when only Silero heard it (the microphone is quiet), else None."""
        settings = self.config.audio
        rate = self.pipeline.sample_rate
        estimate = audio.estimate_speech(samples, rate, settings.silence_threshold_dbfs)
        log.debug(
            "chunk_id=%s speech %.2f s, peak %.1f dBFS",
            chunk_id,
            estimate.speech_s,
            estimate.peak_dbfs,
        )
        if estimate.has_speech(settings.min_speech_s):
            return None
        heard_s = None
        if settings.quiet_speech == "silero":
            heard_s = voice_activity.speech_seconds(samples, rate)
            if heard_s >= max(settings.min_speech_s, QUIET_SPEECH_MIN_S):
                log.info(
                    "chunk_id=%s quiet speech: %.2f s by Silero VAD, peak %.1f dBFS",
                    chunk_id,
                    heard_s,
                    estimate.peak_dbfs,
                )
                return estimate.peak_dbfs
        vad = "" if heard_s is None else f", {heard_s:.2f} s of speech by Silero VAD"
        raise EngineError(
            ErrorCode.NO_SPEECH,
            f"{estimate.speech_s:.2f} s above {settings.silence_threshold_dbfs:g} dBFS "
            f"(loudest {estimate.peak_dbfs:.1f} dBFS){vad}; "
            f"{settings.min_speech_s:g} s needed",
        )

    def _prepare_turn(
        self, samples: np.ndarray, mode: str, heard: str | None = None
    ) -> Prepared:
        history = self.history if mode == "conversation" else ()
        return self.pipeline.prepare(
            samples, mode, self.config.prompt_for(mode), history, heard=heard
        )

    def _generate_kwargs(self, generator: Generator) -> dict[str, Any]:
        settings = self.config.chunked_response.generation
        tokenizer = generator.tokenizer
        pad = getattr(tokenizer, "pad_token_id", None)
        if pad is None:
            pad = generator.model.generation_config.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "do_sample": settings.do_sample,
            "repetition_penalty": settings.repetition_penalty,
            "pad_token_id": pad,
        }
        if settings.do_sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        return kwargs

    def _start_generation(self, prepared: Prepared, chunk_id: Any) -> GenerationRun:
        loop = asyncio.get_running_loop()
        timeout = max(
            self.config.chunked_response.streamer_timeout_s,
            prepared.silence_limit_s or 0.0,
        )
        if prepared.produce is not None:
            streamer, work = (
                LoopStreamer(loop, timeout),
                producer_work(prepared.produce),
            )
        elif prepared.pieces is not None:
            streamer, work = (
                LoopStreamer(loop, timeout),
                passthrough_work(prepared.pieces),
            )
        else:
            from core.streaming.hf_generation import GenerateStreamer, generate_work

            generator = prepared.generator
            if generator is None or prepared.inputs is None:
                raise RuntimeError("the pipeline prepared nothing to generate from")
            streamer = GenerateStreamer(generator.tokenizer, loop, timeout)
            work = generate_work(
                generator.model, prepared.inputs, self._generate_kwargs(generator)
            )
        run = GenerationRun(work, streamer)
        run.start(self._generation_thread())
        return run

    async def _stream_chunks(
        self, run: GenerationRun, turn: Turn, prepared: Prepared, prepared_ms: float
    ) -> AsyncIterator[ChunkItem]:
        settings = self.config.chunked_response
        chunker = WordChunker(settings.chunk_size_words)
        held: list[str] = []  # with chunking off, everything waits for the final item
        async for piece in run.text():
            for chunk in chunker.feed(piece):
                if not settings.enabled:
                    held.append(chunk)
                    continue
                if turn.first_chunk_at is None:
                    log.info(
                        "chunk_id=%s first chunk at %.0f ms",
                        turn.chunk_id,
                        turn.ms_since_start(),
                    )
                yield turn.item(chunk, is_final=False)
        rest = " ".join([*held, chunker.finish()]).strip()
        yield self._final_item(run, turn, rest, prepared, prepared_ms)

    def _final_item(
        self,
        run: GenerationRun,
        turn: Turn,
        rest: str,
        prepared: Prepared,
        prepared_ms: float,
    ) -> ChunkItem:
        end = time.perf_counter()
        item = turn.item(rest, is_final=True)
        tokens = run.streamer.generated_tokens
        generate_s = max(end - (run.started_at or end), 1e-9)
        first_token = run.streamer.first_token_at
        item.update(
            total_chunks=turn.next_index,
            ttfc_ms=round(turn.ms_since_start(turn.first_chunk_at or end), 3),
            total_ms=round(turn.ms_since_start(end), 3),
            generated_tokens=tokens,
            # the answer may have been cut there: said, not left to look finished
            reached_max_new_tokens=prepared.pieces is None
            and tokens >= self.config.chunked_response.generation.max_new_tokens,
            tokens_per_s=round(tokens / generate_s, 3),
            timings={
                **prepared.stage_ms,
                **prepared.stats,
                "prepare_ms": round(prepared_ms, 3),
                "call_to_generate_ms": round(
                    turn.ms_since_start(run.started_at or end), 3
                ),
                "first_token_ms": round(turn.ms_since_start(first_token), 3)
                if first_token
                else None,
                # heard by Silero only: the window suggests raising the input gain
                **(
                    {"quiet_input_dbfs": round(turn.quiet_dbfs, 1)}
                    if turn.quiet_dbfs is not None
                    else {}
                ),
            },
        )
        log.info(
            "chunk_id=%s end: %d chunks, %d tokens, ttfc %.0f ms, total %.0f ms",
            turn.chunk_id,
            item["total_chunks"],
            tokens,
            item["ttfc_ms"],
            item["total_ms"],
        )
        return item

    def _remember(self, samples: np.ndarray, prepared: Prepared, turn: Turn) -> None:
        """A conversation turn that produced words (finished, or cut short by a barge-in)
        joins the memory; what was shown is what is remembered."""
        if (
            turn.mode != "conversation"
            or not prepared.remember
            or turn.failed
            or not turn.texts
            or not self._history.maxlen
        ):
            return
        answer = " ".join(turn.texts)
        self._history.append(self.pipeline.remember(samples, prepared, answer))


def typed_question(text: Any) -> str:
    """A typed question as the model gets it; an empty or overlong one is INVALID_TEXT."""
    if not isinstance(text, str) or not text.strip():
        raise EngineError(
            ErrorCode.INVALID_TEXT, "a typed question must be non-empty text"
        )
    question = " ".join(text.split())
    if len(question) > MAX_TYPED_CHARS:
        raise EngineError(
            ErrorCode.INVALID_TEXT,
            f"a typed question is at most {MAX_TYPED_CHARS} characters "
            f"(this one has {len(question)})",
        )
    return question


def _close_pipeline(pipeline: Pipeline) -> None:
    pipeline.close()
