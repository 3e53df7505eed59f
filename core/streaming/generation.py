"""Text-producing work (``model.generate``, recognition, llama.cpp) in a background thread,
its text delivered to an asyncio consumer.

Finalized text goes straight onto the event loop (``call_soon_threadsafe``) instead of a
thread queue, so no consumer thread competes with the model for the CPU and the loop is woken
only for non-empty text. A failure inside the work ends the stream at once and is re-raised
to the consumer; a stop request ends the work after the current decoding step.

Nothing here imports torch or transformers (seconds of start-up the embedded default does
not need); ``model.generate``'s streamer is in :mod:`core.streaming.hf_generation`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable

log = logging.getLogger(__name__)

_END = object()


class StreamTimeout(Exception):
    """No text arrived within the streamer timeout."""


class LoopStreamer:
    """Feeds an asyncio queue from the work's thread and counts generated tokens."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.pieces: asyncio.Queue = asyncio.Queue()
        self.generated_tokens = 0
        self.first_token_at: float | None = None

    def _send(self, item: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.pieces.put_nowait, item)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            pass

    def send_end(self) -> None:
        self._send(_END)

    def push_text(self, text: str, tokens: int) -> None:
        """Text that did not come from ``generate`` (counted as ``tokens`` generated tokens)."""
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.generated_tokens += tokens
        self.on_finalized_text(text)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self._send(text)
        if stream_end:
            self.send_end()


Work = Callable[[LoopStreamer, threading.Event], None]


def passthrough_work(pieces: Iterable[tuple[str, int]]) -> Work:
    """Text produced lazily by iterating ``pieces`` (e.g. recognised segments), stoppable."""

    def work(streamer: LoopStreamer, cancel: threading.Event) -> None:
        for text, tokens in pieces:
            if cancel.is_set():
                break
            streamer.push_text(text, tokens)
        streamer.send_end()

    return work


def producer_work(
    produce: Callable[[Callable[[str, int], None], threading.Event], None],
) -> Work:
    """Text a pipeline's own runtime produces (``Prepared.produce``), stoppable."""

    def work(streamer: LoopStreamer, cancel: threading.Event) -> None:
        produce(streamer.push_text, cancel)
        streamer.send_end()

    return work


class GenerationRun:
    """One piece of text-producing work on the engine's generation thread, stoppable, with its
    failure kept for the consumer."""

    def __init__(self, work: Work, streamer: LoopStreamer) -> None:
        self.streamer = streamer
        self.cancel = threading.Event()
        self.error: BaseException | None = None
        self.started_at: float | None = None
        self._done = streamer.loop.create_future()
        self._work: Work | None = work
        self._future: concurrent.futures.Future | None = None

    def start(self, executor: concurrent.futures.Executor) -> None:
        # One long-lived generation thread (the executor's) rather than a thread per turn:
        # nothing to create per turn, and native memory stays in one thread's allocator arena.
        self._future = executor.submit(self._run)

    def _run(self) -> None:
        try:
            self.started_at = time.perf_counter()
            self._work(self.streamer, self.cancel)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the consumer
            self.error = exc
            self.streamer.send_end()  # wake the consumer now, not after the streamer timeout
        finally:
            self._work = None  # drop inputs and model references
            try:
                self.streamer.loop.call_soon_threadsafe(_resolve, self._done)
            except RuntimeError:
                pass

    async def text(self) -> AsyncIterator[str]:
        """Non-empty text pieces as generation produces them; raises the thread's error at the end."""
        timeout = self.streamer.timeout
        while True:
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that lands as a piece arrives, and a barge-in would be lost.
                async with asyncio.timeout(timeout):
                    piece = await self.streamer.pieces.get()
            except TimeoutError:
                raise StreamTimeout(
                    f"no text from the model for {timeout:g} s"
                ) from None
            if piece is _END:
                break
            yield piece
        if self.error is not None:
            raise self.error

    async def stop(self) -> None:
        """Ask generation to stop after the current step and wait until it has."""
        self.cancel.set()
        if self._future is None:
            return  # never started
        try:
            await asyncio.shield(self._done)
        except asyncio.CancelledError:
            self._future.result()  # cancelled while waiting: still never leave it running
            raise


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
