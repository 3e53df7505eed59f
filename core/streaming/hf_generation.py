"""``model.generate`` as engine work: a TextIteratorStreamer that feeds the engine's loop, and
a stopping criterion tied to the turn's cancel event. Imported only for transformers models."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from core.streaming.generation import LoopStreamer, Work


class _CancelCriteria(StoppingCriteria):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs
    ) -> torch.BoolTensor:
        stop = self.event.is_set()
        return torch.full(
            (input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device
        )


class GenerateStreamer(LoopStreamer, TextIteratorStreamer):
    """TextIteratorStreamer's decoding (whole words, special tokens skipped), with its
    finalized text sent to the loop by :class:`LoopStreamer` instead of a thread queue."""

    def __init__(
        self, tokenizer: Any, loop: asyncio.AbstractEventLoop, timeout: float
    ) -> None:
        TextIteratorStreamer.__init__(
            self, tokenizer, skip_prompt=True, timeout=timeout, skip_special_tokens=True
        )
        LoopStreamer.__init__(self, loop, timeout)

    def put(self, value: torch.Tensor) -> None:
        if not self.next_tokens_are_prompt:
            self.generated_tokens += int(value.numel())
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
        TextIteratorStreamer.put(self, value)


def generate_work(
    model: Any, inputs: Mapping[str, Any], generate_kwargs: Mapping[str, Any]
) -> Work:
    """``model.generate`` streaming into the streamer, stoppable through the cancel event."""

    def work(streamer: GenerateStreamer, cancel: threading.Event) -> None:
        with torch.inference_mode():
            model.generate(
                **inputs,
                streamer=streamer,
                stopping_criteria=StoppingCriteriaList([_CancelCriteria(cancel)]),
                **generate_kwargs,
            )

    return work
