"""What reaches the model: every ``generate`` call on a real model object, recorded.

The engine's generation thread calls ``model.generate(**inputs, streamer=..., **settings)``;
an instance attribute shadows the class's method, so the record is taken at that boundary
(the app's own path) without touching the engine's code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

# The engine's own machinery: neither model inputs nor generation settings.
_PLUMBING = ("streamer", "stopping_criteria")


@dataclass
class GenerateCall:
    inputs: dict[str, torch.Tensor]  # what the processor made: ids, masks, features
    settings: dict[str, Any]  # everything else the caller passed (max_new_tokens, ...)
    sequences: torch.Tensor | None = field(default=None)  # what generate returned

    @property
    def new_tokens(self) -> list[int]:
        assert self.sequences is not None, "generate did not return"
        return self.sequences[0, self.inputs["input_ids"].shape[-1] :].tolist()


@contextlib.contextmanager
def recorded_generate(model: Any) -> Iterator[list[GenerateCall]]:
    """Record each ``model.generate`` call made inside the block (from any thread)."""
    calls: list[GenerateCall] = []
    original = model.generate

    def generate(**kwargs: Any) -> Any:
        call = GenerateCall(
            inputs={k: v for k, v in kwargs.items() if isinstance(v, torch.Tensor)},
            settings={
                k: v
                for k, v in kwargs.items()
                if not isinstance(v, torch.Tensor) and k not in _PLUMBING
            },
        )
        # Recorded first: the stream can end before generate returns.
        calls.append(call)
        call.sequences = original(**kwargs)
        return call.sequences

    model.generate = generate
    try:
        yield calls
    finally:
        del model.generate


async def reference_generate(
    model: Any, call: GenerateCall, settings: dict[str, Any], seed: int = 0
) -> list[int]:
    """New tokens from plain ``generate`` on the recorded inputs with ``settings`` spelled
    out by the test (not the engine's), from the same seed. It runs on a worker thread, as
    the engine's generate does: on the event loop's thread the same call took 1.5 s against
    0.05-0.2 s on the 2-core test machines."""

    def generate() -> list[int]:
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(**call.inputs, **settings)
        return out[0, call.inputs["input_ids"].shape[-1] :].tolist()

    return await asyncio.to_thread(generate)
