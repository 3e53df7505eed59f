"""What a failed request to a chat server means to the user: an error code and a plain
sentence that says what went wrong and what to do (which variable holds the key, which
models the server has, what the server itself said)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import openai

from core.config import ServerSettings
from core.errors import EngineError, ErrorCode
from core.models.names import is_url


def setting(name: str, key: str) -> str:
    """Where the user sets ``key`` for server ``name``: its ``servers`` entry, or for a URL
    given as the model (``--model http://...``), an entry they would add for it."""
    if is_url(name):
        if key == "url":
            return "the URL given as the model"
        return (
            f"`{key}` in a servers entry for it in config.yaml (then pick it by name)"
        )
    return f"servers.{name}.{key}"


#: HTTP statuses worth one retry after a pause: the server is busy, not broken
BUSY_STATUSES = frozenset({429, 503})
#: the longest pause before that retry, whatever Retry-After asks
MAX_RETRY_DELAY_S = 5.0

_CONTEXT_WORDS = ("context", "too long", "too many tokens")
_ANSWER_LENGTH_WORDS = ("max_tokens", "max_completion_tokens", "max_new_tokens")


def _server_said(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
        if isinstance(inner, str):
            return inner[:300]
    text = exc.response.text if exc.response is not None else ""
    return (text or exc.message or "").strip()[:300]


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _connection_failure(
    name: str, settings: ServerSettings, exc: BaseException
) -> EngineError:
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            return EngineError(
                ErrorCode.SERVER_TLS,
                f"The TLS connection to {settings.url} ({name}) failed: "
                f"{getattr(cause, 'reason', None) or cause}. For a server with its own "
                "certificate authority, point SSL_CERT_FILE at its certificate.",
            )
    reason = next(
        (str(c) for c in _causes(exc) if isinstance(c, OSError) and str(c)),
        str(exc.__cause__ or exc),
    )
    return EngineError(
        ErrorCode.SERVER_UNREACHABLE,
        f"Nothing answered at {settings.url} ({name}): {reason}. Start the server, or "
        f"check {setting(name, 'url')}.",
    )


def request_failure(
    name: str,
    settings: ServerSettings,
    exc: BaseException,
    models: Callable[[], list[str]] | None = None,
) -> EngineError:
    """The error item for ``exc``, raised by the openai client or httpx while a request to
    server ``name`` was sent or its stream read. ``models`` lists the server's models (for a
    404); it is only called then."""
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        return _timeout(name, settings, exc)
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(name, settings, exc, models)
    if isinstance(exc, openai.APIConnectionError):
        return _connection_failure(name, settings, exc)
    return EngineError(ErrorCode.SERVER_ERROR, f"{name}: {type(exc).__name__}: {exc}")


def stream_failure(
    name: str, settings: ServerSettings, exc: BaseException
) -> EngineError:
    """The error item for ``exc``, raised while an answer was streaming."""
    if isinstance(exc, EngineError):
        return exc
    if any(
        isinstance(c, (openai.APITimeoutError, httpx.TimeoutException))
        for c in _causes(exc)
    ):
        return _timeout(name, settings, exc)
    if isinstance(exc, openai.APIError) and not isinstance(
        exc, openai.APIConnectionError
    ):
        # an error event inside the stream: the server's own words
        return EngineError(
            ErrorCode.SERVER_ERROR, f"{name} failed mid-answer: {exc.message}."
        )
    reason = str(exc.__cause__ or exc) or type(exc).__name__
    return EngineError(
        ErrorCode.STREAM_INTERRUPTED,
        f"{name} stopped mid-answer ({reason}).",
    )


def _timeout(name: str, settings: ServerSettings, exc: BaseException) -> EngineError:
    connecting = any(isinstance(c, httpx.ConnectTimeout) for c in _causes(exc))
    if connecting:
        return EngineError(
            ErrorCode.SERVER_UNREACHABLE,
            f"{settings.url} ({name}) did not accept a connection in time.",
        )
    return EngineError(
        ErrorCode.TIMEOUT,
        f"{name} sent nothing for {settings.timeout_s:g} s ({setting(name, 'timeout_s')}).",
    )


def _status_failure(
    name: str,
    settings: ServerSettings,
    exc: openai.APIStatusError,
    models: Callable[[], list[str]] | None,
) -> EngineError:
    status, said = exc.status_code, _server_said(exc)
    if status in (401, 403):
        variable = settings.api_key_env
        if variable is None:
            hint = (
                f"it wants an API key: put the key in an environment variable and set "
                f"{setting(name, 'api_key_env')} to that variable's name"
            )
        else:
            hint = f"check the key in the environment variable {variable}"
        return EngineError(
            ErrorCode.SERVER_AUTH, f"{name} answered HTTP {status} ({said}); {hint}."
        )
    if status == 404:
        return EngineError(
            ErrorCode.MODEL_NOT_FOUND, _not_found(name, settings, said, models)
        )
    if status in (400, 422) and any(w in said for w in _ANSWER_LENGTH_WORDS):
        return EngineError(
            ErrorCode.SERVER_ERROR,
            f"{name} refused the answer length ({said}); lower "
            "chunked_response.generation.max_new_tokens.",
        )
    if status in (400, 413, 422) and any(w in said.lower() for w in _CONTEXT_WORDS):
        return EngineError(
            ErrorCode.PROMPT_TOO_LONG, f"{name} answered HTTP {status}: {said}."
        )
    if status in BUSY_STATUSES:
        return EngineError(
            ErrorCode.SERVER_BUSY,
            f"{name} answered HTTP {status}, and again when asked once more ({said}).",
        )
    kind = "rejected the request" if status < 500 else "failed"
    return EngineError(ErrorCode.SERVER_ERROR, f"{name} {kind}: HTTP {status}: {said}.")


def _not_found(
    name: str,
    settings: ServerSettings,
    said: str,
    models: Callable[[], list[str]] | None,
) -> str:
    available: list[str] | None = None
    if models is not None:
        try:
            available = models()
        except Exception:  # noqa: BLE001 - the listing is only a hint
            available = None
    if available:
        wanted = settings.model or "(the first listed)"
        return (
            f"{name} has no model {wanted!r} ({said}); it serves: "
            f"{', '.join(available[:20])}. Set {setting(name, 'model')} to one of them."
        )
    return (
        f"{name} answered HTTP 404 at {settings.url} ({said}); check "
        f"{setting(name, 'url')} (OpenAI-compatible servers answer under /v1) and "
        f"{setting(name, 'model')}."
    )


def retry_delay(exc: BaseException) -> float | None:
    """Seconds to wait before the one retry a busy server gets, or None: no retry."""
    if (
        not isinstance(exc, openai.APIStatusError)
        or exc.status_code not in BUSY_STATUSES
    ):
        return None
    header: Any = exc.response.headers.get("retry-after") if exc.response else None
    try:
        return min(max(float(header), 0.0), MAX_RETRY_DELAY_S)
    except (TypeError, ValueError):
        return 1.0
