"""The embedded chat model in llama.cpp (the ``xllamacpp`` wheel), in this process.

llama.cpp runs the packaged GGUF files as they are (no conversion, no dequantising on load)
and decodes quantised weights about twice as fast as transformers on a CPU. Its server
keeps the previous prompt's KV cache, so a turn only prefills what is new since the last
request: the system prompt and earlier turns are computed once, and ``prefill`` can compute a
partial transcript ahead of time while the user is still talking.

The server's HTTP listener is bound to a Unix socket in a private folder (no TCP port);
requests go straight to its handlers in-process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Emit = Callable[[str, int], None]


class ChatError(RuntimeError):
    """llama.cpp refused or failed a request; the message is the server's own."""


class LlamaChat:
    def __init__(
        self, gguf: Path, threads: int, context_tokens: int = 4096, gpu: bool = False
    ) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(gguf)
        params.n_ctx = context_tokens
        params.n_parallel = 1  # one conversation: its cache is never evicted by another
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        # Threads sleep between operations instead of spinning (poll 50, the default),
        # leaving the cores to the window at no cost to decoding (docs/design-notes.md).
        params.cpuparams.poll = 0
        params.cpuparams_batch.poll = 0
        # Fitting layers and context to free memory is for a GPU; on the CPU its dry-run
        # load only slows every start.
        params.fit_params = gpu
        params.n_gpu_layers = 999 if gpu else 0
        params.verbosity = -1  # llama.cpp's own log is not ours to print
        params.warmup = False  # the first prefill warms up, after the app is ready
        self._folder = tempfile.mkdtemp(prefix="ptt-llama-")  # 0700
        params.hostnames = [os.path.join(self._folder, "llama.sock")]
        params.endpoint_metrics = False
        params.endpoint_slots = False
        try:
            self.server = xllamacpp.Server(params)
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self._lock = threading.Lock()  # llama.cpp serves one request at a time here
        self._background: threading.Thread | None = None
        self._served = False  # whether llama.cpp's loop has answered a request yet

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        options: dict[str, Any],
        emit: Emit,
        cancel: threading.Event,
        head_start: bool = False,
    ) -> dict[str, Any]:
        """Stream the answer to ``messages`` through ``emit(text, tokens)`` until done or
        ``cancel`` is set (checked at every token); returns usage and timings.
        ``head_start``: skipped once any request was served (it began with the same system
        prompt, and this shorter prompt would replace its longer one in the cache)."""
        request = {
            **options,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "cache_prompt": True,
        }
        stats: dict[str, Any] = {}
        failure: list[str] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if "error" in chunk or ("code" in chunk and "message" in chunk):
                error = chunk.get("error", chunk)
                failure.append(
                    error.get("message", str(error))
                    if isinstance(error, dict)
                    else str(error)
                )
                return True
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    emit(text, 1)
            if chunk.get("usage"):
                stats["usage"] = chunk["usage"]
            if chunk.get("timings"):
                stats["timings"] = chunk["timings"]
            return cancel.is_set()  # True ends generation after this token

        with self._lock:
            if head_start and self._served:
                return stats
            self.server.handle_chat_completions(request, on_chunk)
            self._served = True
        if failure:
            raise ChatError(failure[0])
        return stats

    def prefill(
        self, messages: Sequence[dict[str, str]], head_start: bool = False
    ) -> dict[str, Any]:
        """Compute ``messages`` into the cache without answering, so the next request that
        starts with them only prefills the rest."""
        return self.stream(
            messages,
            {"max_tokens": 0},
            lambda text, tokens: None,
            threading.Event(),
            head_start=head_start,
        )

    def prefill_in_background(
        self,
        messages: Sequence[dict[str, str]],
        before: Callable[[], Any] | None = None,
    ) -> None:
        """``prefill`` (after ``before()``, other warm-up work) on a thread of its own; a
        request made meanwhile waits for it."""

        def run() -> None:
            try:
                if before is not None:
                    before()
                # A preview may have come first (its prompt starts with these messages).
                self.prefill(messages, head_start=True)
            except Exception as exc:  # noqa: BLE001 - only a head start is lost
                log.warning("could not precompute the system prompt: %s", exc)

        self._background = threading.Thread(target=run, name="ptt-llama-prefill")
        self._background.start()

    def close(self) -> None:
        if self._background is not None:
            self._background.join()
        server = getattr(self, "server", None)
        if server is not None and not self._served:
            # xllamacpp's Server returns before its loop runs, and stopping a loop that has
            # not started yet waits forever; a request proves it is running.
            with contextlib.suppress(Exception):
                self.prefill([{"role": "user", "content": "."}])
        self.server = None
        if server is not None:
            del server  # joins llama.cpp's loop thread
        with contextlib.suppress(OSError):
            shutil.rmtree(self._folder)


def llama_options(generation: Any) -> dict[str, Any]:
    """The config's generation settings as llama.cpp request fields."""
    options: dict[str, Any] = {
        "max_tokens": generation.max_new_tokens,
        "repeat_penalty": generation.repetition_penalty,
    }
    if generation.do_sample:
        options.update(temperature=generation.temperature, top_p=generation.top_p)
    else:
        options.update(temperature=0.0, top_k=1)  # greedy
    return options
