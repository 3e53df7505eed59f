"""What a turn streams: the fields of each chunk item, and the bookkeeping that numbers and
times the items of one call (docs/engine.md lists every field)."""

from __future__ import annotations

import time
from typing import Any, NotRequired, TypedDict

from core.errors import SHOWN_DETAIL, USER_MESSAGES, ErrorCode


class ChunkItem(TypedDict):
    """One item of ``process_realtime_chunk_streaming``; the final one has the totals."""

    success: bool
    chunk_id: Any
    chunk_index: int
    text: str
    word_count: int
    is_final: bool
    processing_time_ms: float
    timestamp: float
    mode: str
    #: what the pipeline recognised the user saying, when it does
    heard: str | None
    # an error item (success False, is_final True)
    error: NotRequired[str]
    message: NotRequired[str]
    detail: NotRequired[str]
    # the final item of an answer
    total_chunks: NotRequired[int]
    ttfc_ms: NotRequired[float]
    total_ms: NotRequired[float]
    generated_tokens: NotRequired[int]
    reached_max_new_tokens: NotRequired[bool]
    tokens_per_s: NotRequired[float]
    #: stage times in ms and the turn's counts and flags
    timings: NotRequired[dict[str, Any]]


class Turn:
    """Bookkeeping for one call: ids, clock, chunk numbering, and item construction."""

    def __init__(self, chunk_id: Any, mode: str) -> None:
        self.chunk_id = chunk_id
        self.mode = mode
        self.started = time.perf_counter()
        self.next_index = 0
        self.first_chunk_at: float | None = None
        self.final_sent = False
        self.heard: str | None = None
        #: the loudest level of a clip only Silero VAD heard speech in (a quiet microphone)
        self.quiet_dbfs: float | None = None
        self.texts: list[str] = []
        self.failed = False

    def ms_since_start(self, at: float | None = None) -> float:
        return ((at if at is not None else time.perf_counter()) - self.started) * 1000.0

    def item(
        self, text: str, *, is_final: bool, success: bool = True, **extra: Any
    ) -> ChunkItem:
        now = time.perf_counter()
        if text and self.first_chunk_at is None:
            self.first_chunk_at = now
        item: ChunkItem = {
            "success": success,
            "chunk_id": self.chunk_id,
            "chunk_index": self.next_index,
            "text": text,
            "word_count": len(text.split()),
            "is_final": is_final,
            "processing_time_ms": round(self.ms_since_start(now), 3),
            "timestamp": time.time(),
            "mode": self.mode,
            "heard": self.heard,
        }
        item.update(extra)  # type: ignore[typeddict-item]
        self.next_index += 1
        self.final_sent = is_final
        if text and success:
            self.texts.append(text)
        return item

    def error(self, code: ErrorCode, detail: str) -> ChunkItem:
        self.failed = True
        message = USER_MESSAGES[code]
        if code is ErrorCode.INVALID_AUDIO:
            message = f"{message.rstrip('.')}: {detail}."
        elif code in SHOWN_DETAIL:
            message = f"{message} {detail}"
        return self.item(
            "",
            is_final=True,
            success=False,
            error=str(code),
            message=message,
            detail=detail,
        )
