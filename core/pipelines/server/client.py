"""Streaming chat completions from an OpenAI-compatible server (vLLM, llama.cpp's server,
Ollama, LM Studio) through the official ``openai`` client.

A barge-in must free the server at once, not after its next token: an assistant that keeps
a GPU busy after the user interrupted is the failure to beat. So the stream's socket is
shut down from a watcher thread the moment the turn is cancelled; the blocked read returns,
the server sees the disconnect and cancels its task, even during a long prefill when no
token has come yet.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx2 as httpx
import openai

from core.config import ServerSettings
from core.errors import EngineError, ErrorCode
from core.pipelines.server.failures import (
    request_failure,
    retry_delay,
    setting,
    stream_failure,
)

log = logging.getLogger(__name__)

Emit = Callable[[str, int], None]

#: connecting never waits longer than this, whatever the stream's own timeout
CONNECT_TIMEOUT_S = 10.0


class ServerChat:
    """One configured server: its model name, streamed answers, and a reachability probe."""

    def __init__(
        self,
        name: str,
        settings: ServerSettings,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.name = name
        self.settings = settings
        variable = settings.api_key_env
        # A key pasted with its line end (a CRLF .env file) is still the key.
        key = (environ.get(variable) or "").strip() if variable else ""
        #: why the configured key can't be used (each turn then says so), or None
        self.key_problem: str | None = None
        if variable and not key:
            self.key_problem = (
                f"{setting(name, 'api_key_env')} names {variable}, which is not set"
            )
        elif key and not (key.isascii() and key.isprintable()):
            self.key_problem = (
                f"the key in {variable} has characters no API key has (spaces inside, "
                "control or non-ASCII characters); set it again"
            )
            key = ""
        if self.key_problem:
            log.warning("%s", self.key_problem)
        self._key = key
        self._socket: socket.socket | None = None
        timeout = httpx.Timeout(
            settings.timeout_s, connect=min(settings.timeout_s, CONNECT_TIMEOUT_S)
        )
        common = {
            "base_url": settings.url,
            "api_key": key or "none",
            "max_retries": 0,
            "default_headers": _our_headers(key),
        }
        # One connection for answers, so the socket a cancel shuts down is the stream's.
        self._http = openai.DefaultHttpxClient(
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            event_hooks={"request": [self._trace_request]},
        )
        self.client = openai.OpenAI(timeout=timeout, http_client=self._http, **common)
        self._lister = openai.OpenAI(timeout=timeout, **common)
        self._model: str | None = settings.model

    # -- the stream's socket -----------------------------------------------------------------

    def _trace_request(self, request: httpx.Request) -> None:
        request.extensions["trace"] = self._trace

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event in (
            "connection.connect_tcp.complete",
            "connection.start_tls.complete",
        ):
            stream = info.get("return_value")
            if stream is not None:
                self._socket = stream.get_extra_info("socket")

    def _cut_when(
        self, cancel: threading.Event, done: threading.Event
    ) -> threading.Thread:
        def watch() -> None:
            cancel.wait()
            if not done.is_set() and self._socket is not None:
                with contextlib.suppress(OSError):
                    self._socket.shutdown(socket.SHUT_RDWR)
                log.info("%s: stream cut (barge-in)", self.name)

        watcher = threading.Thread(target=watch, name="ptt-server-cancel", daemon=True)
        watcher.start()
        return watcher

    # -- requests ----------------------------------------------------------------------------

    def _clean(self, error: EngineError) -> EngineError:
        """``error`` without the key in it (a server may echo what it was sent)."""
        if not self._key or self._key not in error.detail:
            return error
        return EngineError(error.code, error.detail.replace(self._key, "***"))

    def _refuse_without_key(self) -> None:
        if self.key_problem:
            raise EngineError(ErrorCode.SERVER_AUTH, f"{self.key_problem}.")

    def models(self, timeout: float | None = None) -> list[str]:
        """The model names the server lists (``GET /models``)."""
        client = (
            self._lister
            if timeout is None
            else self._lister.with_options(timeout=timeout)
        )
        return [model.id for model in client.models.list()]

    def model_name(self) -> str:
        """The configured model, or the first one the server lists."""
        if self._model is None:
            try:
                listed = self.models()
            except Exception as exc:  # noqa: BLE001 - reported as the turn's error
                raise self._clean(
                    request_failure(self.name, self.settings, exc)
                ) from None
            if not listed:
                raise EngineError(
                    ErrorCode.MODEL_NOT_FOUND,
                    f"{self.name} lists no models; set {setting(self.name, 'model')}.",
                )
            self._model = listed[0]
        return self._model

    def probe(self, timeout: float = 2.0) -> str | None:
        """None when the server answers its model list within ``timeout``, else why not."""
        if self.key_problem:
            return self.key_problem
        try:
            listed = self.models(timeout)
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return self._clean(request_failure(self.name, self.settings, exc)).detail
        if self._model is None and listed:
            # known now: the first turn need not ask (a request a barge-in can't cut)
            self._model = listed[0]
        return None

    def stream(
        self,
        messages: Sequence[dict[str, Any]],
        options: dict[str, Any],
        emit: Emit,
        cancel: threading.Event,
    ) -> dict[str, Any]:
        """Stream the answer through ``emit(text, 1)`` until done or ``cancel`` is set;
        returns the server's usage and timings when it sends them. Failures are
        :class:`EngineError` items with the server codes."""
        done = threading.Event()
        watcher = self._cut_when(cancel, done)
        stats: dict[str, Any] = {}
        started = False  # whether the server began answering (a status 200 came)
        try:
            self._refuse_without_key()
            stream = self._open(messages, options, cancel)
            if stream is None:
                return stats  # cancelled before the server answered
            started = True
            finished = self._read(stream, emit, cancel, stats)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error item
            if cancel.is_set():
                return stats  # our own cut, or a failure nobody waits for any more
            if started:
                raise self._clean(
                    stream_failure(self.name, self.settings, exc)
                ) from None
            raise self._clean(
                request_failure(self.name, self.settings, exc, self.models)
            ) from None
        finally:
            done.set()
            cancel.set()  # releases the watcher; the turn is over either way
            watcher.join()
        if not finished and not cancel_requested(stats):
            raise EngineError(
                ErrorCode.STREAM_INTERRUPTED,
                f"{self.name} closed the stream before the answer was finished.",
            )
        return stats

    def _open(
        self,
        messages: Sequence[dict[str, Any]],
        options: dict[str, Any],
        cancel: threading.Event,
    ) -> openai.Stream | None:
        request = {
            "model": self.model_name(),
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            "extra_body": {**options, **self.settings.options},
        }
        for attempt in (1, 2):
            try:
                return self.client.chat.completions.create(**request)
            except openai.APIStatusError as exc:
                delay = retry_delay(exc)
                if attempt == 2 or delay is None:
                    raise
                log.warning(
                    "%s busy (HTTP %d); retrying once in %.1f s",
                    self.name,
                    exc.status_code,
                    delay,
                )
                if cancel.wait(delay):
                    return None
        return None

    @staticmethod
    def _read(
        stream: openai.Stream,
        emit: Emit,
        cancel: threading.Event,
        stats: dict[str, Any],
    ) -> bool:
        """Feed the stream's text to ``emit``; True when the server said the answer ended."""
        finished = False
        first_at: float | None = None
        with stream:
            for chunk in stream:
                if cancel.is_set():
                    stats["cancelled"] = True
                    return finished
                for choice in chunk.choices:
                    text = choice.delta.content if choice.delta else None
                    if text:
                        if first_at is None:
                            first_at = time.perf_counter()
                        emit(text, 1)
                    if choice.finish_reason:
                        finished = True
                        stats["finish_reason"] = choice.finish_reason
                if chunk.usage is not None:
                    stats["usage"] = chunk.usage.model_dump(exclude_none=True)
                timings = (chunk.model_extra or {}).get("timings")
                if timings:
                    stats["timings"] = timings
        return finished

    def close(self) -> None:
        self.client.close()
        self._lister.close()


def cancel_requested(stats: dict[str, Any]) -> bool:
    return bool(stats.get("cancelled"))


def _our_headers(key: str) -> dict[str, Any]:
    """Only the configured key goes out: not the headers the openai client would add from
    OPENAI_CUSTOM_HEADERS (each is omitted by name, parsed as the client parses it), nor
    OPENAI_ORG_ID / OPENAI_PROJECT_ID: they are meant for OpenAI, not for this server."""
    custom = os.environ.get("OPENAI_CUSTOM_HEADERS") or ""  # where the client reads it
    names = {
        line.split(":", 1)[0].strip() for line in custom.split("\n") if ":" in line
    }
    headers: dict[str, Any] = {name: openai.Omit() for name in names if name}
    headers.update(
        {
            # (a placeholder without a key: the client insists on one, and servers
            # without keys ignore it)
            "Authorization": f"Bearer {key or 'none'}",
            "OpenAI-Organization": openai.Omit(),
            "OpenAI-Project": openai.Omit(),
        }
    )
    return headers
