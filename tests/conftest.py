"""Shared fixtures: tiny real models built offline once per session, engines that load them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the hub

from core import StreamingEngine
from core.config import validate_config
from testkit.signals import speech_like  # noqa: F401 - re-exported for the tests
from testkit.tiny_model import build

ARCHS = ("qwen2-audio", "voxtral")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {arch: build(root / arch, arch) for arch in ARCHS}


@pytest.fixture(scope="session")
def random_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("random-models")
    return {arch: build(root / arch, arch, deterministic=False) for arch in ARCHS}


@pytest.fixture(autouse=True)
def _history_of_this_test(tmp_path, monkeypatch):
    """The window's conversation history (XDG data) goes to the test's folder, never to the
    user's, and no test reopens another's conversation."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Point tempfile at an empty folder so leftovers can be seen."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path / "tmp"


def make_config(model_dir: Path, **sections):
    # Memory off unless a test asks: each turn then sees exactly its own clip.
    data = {"model": {"id": str(model_dir), "device": "cpu"}, "memory": {"turns": 0}}
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return validate_config(data)


async def make_engine(model_dir: Path, **sections) -> StreamingEngine:
    engine = StreamingEngine(make_config(model_dir, **sections))
    await engine.initialize()
    return engine


@pytest.fixture(scope="session", params=ARCHS)
def arch(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def engine(tiny_models, arch) -> StreamingEngine:
    """A loaded engine on the tiny deterministic model of each architecture."""
    engine = StreamingEngine(make_config(tiny_models[arch]))
    asyncio.run(engine.initialize())
    yield engine
    asyncio.run(engine.close())


async def collect(stream) -> list[dict]:
    return [item async for item in stream]


def thread_names() -> set[str]:
    """Live threads, less the default executors of other tests' event loops, which wind
    down on their own schedule after pytest-asyncio closes those loops."""
    return {
        t.name
        for t in threading.enumerate()
        if not t.name.startswith(("ThreadPoolExecutor-", "asyncio_"))
    }


@contextlib.contextmanager
def step_hook(engine: StreamingEngine, fn):
    """Run ``fn(step)`` at every decoding step (each call of the real LM head)."""
    steps = {"n": 0}

    def hook(module, args):
        steps["n"] += 1
        fn(steps["n"])

    handle = engine.pipeline.model.get_output_embeddings().register_forward_pre_hook(
        hook
    )
    try:
        yield steps
    finally:
        handle.remove()


HOSTILE_ANSWER = (
    "<img src=x>"  # HTML an answer could carry; its tokens are distinct, as needed
)


@pytest.fixture(scope="session")
def hostile_model(tmp_path_factory) -> Path:
    """A tiny model whose every answer is HOSTILE_ANSWER."""
    return build(
        tmp_path_factory.mktemp("hostile"), "qwen2-audio", sentence=HOSTILE_ANSWER
    )


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """A private PulseAudio server (default sink: a null sink; default source: its
    monitor), and sounddevice looking at it: the real audio path with no sound card."""
    from testkit.servers import pulseaudio, sounddevice_on

    with (
        pulseaudio(tmp_path_factory.mktemp("pulse-runtime")) as env,
        sounddevice_on(env) as sounddevice,
    ):
        yield env, sounddevice
