"""Stable error codes the engine reports in its error items, with their user-facing text."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_INITIALIZED = "not_initialized"
    INVALID_AUDIO = "invalid_audio"
    NO_SPEECH = "no_speech"
    INVALID_MODE = "invalid_mode"
    INVALID_TEXT = "invalid_text"
    AUDIO_DROPPED = "audio_dropped"
    GENERATION_FAILED = "generation_failed"
    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    # answering through an OpenAI-compatible server
    SERVER_UNREACHABLE = "server_unreachable"
    SERVER_TLS = "server_tls"
    SERVER_AUTH = "server_auth"
    MODEL_NOT_FOUND = "model_not_found"
    PROMPT_TOO_LONG = "prompt_too_long"
    SERVER_BUSY = "server_busy"
    SERVER_ERROR = "server_error"
    STREAM_INTERRUPTED = "stream_interrupted"


# Short sentences a window or terminal can show as they are.
USER_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.NOT_INITIALIZED: "The model is still loading. Try again in a moment.",
    ErrorCode.INVALID_AUDIO: "That recording could not be used.",
    ErrorCode.NO_SPEECH: "I didn't hear any speech in the recording: speak a little louder, or closer to the microphone.",
    ErrorCode.INVALID_MODE: "That mode isn't supported.",
    ErrorCode.INVALID_TEXT: "That question could not be used: type a question of up to 8000 characters.",
    ErrorCode.AUDIO_DROPPED: "The model's processor ignored the recording, so there is nothing to answer.",
    ErrorCode.GENERATION_FAILED: "Something went wrong while answering. Please try again.",
    ErrorCode.OUT_OF_MEMORY: "The model ran out of memory while answering. Try a shorter "
    "clip, fewer remembered turns (memory.turns) or a smaller model.",
    ErrorCode.TIMEOUT: "The model took too long to answer. Please try again.",
    ErrorCode.SERVER_UNREACHABLE: "The model server can't be reached. Is it running?",
    ErrorCode.SERVER_TLS: "The model server's secure connection failed (TLS).",
    ErrorCode.SERVER_AUTH: "The model server refused the API key.",
    ErrorCode.MODEL_NOT_FOUND: "The model server doesn't have that model.",
    ErrorCode.PROMPT_TOO_LONG: "The question and remembered turns are too long for the "
    "server's model. Start a new conversation or ask a shorter question.",
    ErrorCode.SERVER_BUSY: "The model server is busy. Try again in a moment.",
    ErrorCode.SERVER_ERROR: "The model server failed while answering. Please try again.",
    ErrorCode.STREAM_INTERRUPTED: "The answer was cut off: the connection to the model "
    "server was lost.",
}


#: codes whose detail is a plain sentence worth showing after the message (which key, which
#: models the server has, what it said)
SHOWN_DETAIL = frozenset(
    {
        ErrorCode.SERVER_UNREACHABLE,
        ErrorCode.SERVER_TLS,
        ErrorCode.SERVER_AUTH,
        ErrorCode.MODEL_NOT_FOUND,
        ErrorCode.PROMPT_TOO_LONG,
        ErrorCode.SERVER_BUSY,
        ErrorCode.SERVER_ERROR,
        ErrorCode.STREAM_INTERRUPTED,
    }
)


class EngineError(Exception):
    """A failure the engine turns into one error item: a code plus what exactly went wrong."""

    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class ConfigError(ValueError):
    """A config file that cannot be used; the message names each bad key and what is allowed."""


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA, XPU), MPS's RuntimeError, or Python's MemoryError."""
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "OutOfMemoryError"
        or "out of memory" in str(exc).lower()
    )
