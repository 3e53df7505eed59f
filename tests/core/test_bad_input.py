"""Bad-input battery through the public engine call: every input gets either a correct stream
or exactly one clear error item; never an exception, a hang, a leftover temp file or thread,
or generation still running afterwards."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch

from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import collect, make_engine, speech_like, thread_names

RATE = 16000


def noise(seconds=1.0, level=1.0, seed=0):
    return (
        level * np.random.default_rng(seed).standard_normal(int(seconds * RATE))
    ).astype(np.float32)


def with_nan_at(position: float) -> np.ndarray:
    clip = speech_like()
    clip[int(position * (len(clip) - 1))] = np.nan
    return clip


OK = "ok"
# (id, audio, call kwargs, expected: "ok" or an error code)
CASES = [
    ("empty", np.zeros(0, np.float32), {}, "invalid_audio"),
    ("one-sample", np.array([0.5], np.float32), {}, "invalid_audio"),
    ("nan-first", with_nan_at(0.0), {}, "invalid_audio"),
    ("nan-middle", with_nan_at(0.5), {}, "invalid_audio"),
    ("nan-last", with_nan_at(1.0), {}, "invalid_audio"),
    ("inf", np.r_[speech_like(), [np.inf]].astype(np.float32), {}, "invalid_audio"),
    (
        "minus-inf",
        np.r_[[-np.inf], speech_like()].astype(np.float32),
        {},
        "invalid_audio",
    ),
    ("all-zero", np.zeros(RATE, np.float32), {}, "no_speech"),
    ("near-silent", noise(level=1e-4), {}, "no_speech"),
    ("dc-offset-silence", np.full(RATE, 0.4, np.float32), {}, "no_speech"),
    ("dc-offset-speech", speech_like() + 0.3, {}, OK),
    ("clipped-noise", np.clip(noise(level=3.0), -1, 1), {}, OK),
    ("int16", (speech_like() * 32767).astype(np.int16), {}, OK),
    ("int32", (speech_like() * 2**31).astype(np.int32), {}, OK),
    ("uint8", ((speech_like() + 1) * 127.5).astype(np.uint8), {}, OK),
    ("float16", speech_like().astype(np.float16), {}, OK),
    ("float64", speech_like().astype(np.float64), {}, OK),
    ("bfloat16", torch.from_numpy(speech_like()).to(torch.bfloat16), {}, OK),
    ("stereo-channels-first", np.stack([speech_like(), speech_like()]), {}, OK),
    ("stereo-channels-last", np.stack([speech_like(), speech_like()], axis=1), {}, OK),
    ("3d", np.zeros((2, 2, RATE), np.float32), {}, "invalid_audio"),
    ("8k-with-rate", speech_like(rate=8000), {"sample_rate": 8000}, OK),
    ("22k-with-rate", speech_like(rate=22050), {"sample_rate": 22050}, OK),
    ("44k-with-rate", speech_like(rate=44100), {"sample_rate": 44100}, OK),
    ("48k-with-rate", speech_like(rate=48000), {"sample_rate": 48000}, OK),
    # Without sample_rate the config's rate is assumed: the clip plays at the wrong speed but is
    # still a valid clip, so it is answered (the model hears it, as a user would hear it).
    ("48k-without-rate", speech_like(rate=48000), {}, OK),
    ("8k-without-rate", speech_like(rate=8000), {}, OK),
    ("over-max", speech_like(seconds=31), {}, "invalid_audio"),
    ("list", [0.1] * RATE, {}, "invalid_audio"),
    ("string", "clip.wav", {}, "invalid_audio"),
    ("none", None, {}, "invalid_audio"),
    ("bytes", b"\x00\x01" * RATE, {}, "invalid_audio"),
    ("object-array", np.array([object()] * 10), {}, "invalid_audio"),
    ("bad-rate", speech_like(), {"sample_rate": 0}, "invalid_audio"),
    ("rate-string", speech_like(), {"sample_rate": "16k"}, "invalid_audio"),
    ("unknown-mode", speech_like(), {"mode": "summarise"}, "invalid_mode"),
    ("mode-not-str", speech_like(), {"mode": 7}, "invalid_mode"),
]


@pytest.fixture(scope="module")
def file_engine(tiny_models):
    """Temp-file hand-off, so leftover files would show."""
    engine = asyncio.run(
        make_engine(tiny_models["qwen2-audio"], audio={"handoff": "file"})
    )
    yield engine
    asyncio.run(engine.close())


@pytest.mark.parametrize(
    "name, audio, kwargs, expected", CASES, ids=[c[0] for c in CASES]
)
async def test_engine_battery(file_engine, private_tmp, name, audio, kwargs, expected):
    await file_engine.process_realtime_chunk(
        speech_like(), "warm"
    )  # worker thread exists
    before = thread_names()
    mode = kwargs.pop("mode", "conversation")
    items = await asyncio.wait_for(
        collect(
            file_engine.process_realtime_chunk_streaming(audio, name, mode, **kwargs)
        ),
        30,
    )
    assert sum(i["is_final"] for i in items) == 1 and items[-1]["is_final"]
    assert [i["chunk_index"] for i in items] == list(range(len(items)))
    if expected == OK:
        assert all(i["success"] for i in items), items[-1]
        assert " ".join(i["text"] for i in items if i["text"]) == TINY_SENTENCE
    else:
        assert len(items) == 1 and items[0]["error"] == expected, items
        assert items[0]["message"] and items[0]["detail"]
    assert thread_names() == before
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    "chunk_id", [None, 0, -1, 3.5, "", "x" * 10_000, ("a", 1), b"id", object()]
)
async def test_any_chunk_id_comes_back_unchanged(engine, chunk_id):
    items = await collect(
        engine.process_realtime_chunk_streaming(speech_like(), chunk_id)
    )
    assert all(i["chunk_id"] is chunk_id for i in items)
    assert items[-1]["success"]


async def test_before_initialize_every_input_is_not_initialized(tiny_models):
    from core import StreamingEngine
    from tests.conftest import make_config

    engine = StreamingEngine(make_config(tiny_models["voxtral"]))
    for _, audio, kwargs, _ in CASES[:5]:
        items = await collect(
            engine.process_realtime_chunk_streaming(
                audio, 1, **{k: v for k, v in kwargs.items() if k != "mode"}
            )
        )
        assert [i["error"] for i in items] == ["not_initialized"]
