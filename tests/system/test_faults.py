"""Faults injected at real seams: each ends in a clear error, and the next turn works."""

from __future__ import annotations

import json
import shutil
import tempfile

import pytest

from core import StreamingEngine
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import make_config, make_engine, speech_like, thread_names


async def test_unwritable_temp_dir_is_an_error_item_then_recovers(
    tiny_models, tmp_path, monkeypatch
):
    engine = await make_engine(tiny_models["voxtral"], audio={"handoff": "file"})
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the temp folder should be")
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    result = await engine.process_realtime_chunk(speech_like(), "no-tmp")
    assert result["error"] == "generation_failed" and "not-a-dir" in result["detail"]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert (await engine.process_realtime_chunk(speech_like(), "ok"))[
        "text"
    ] == TINY_SENTENCE
    await engine.close()


@pytest.mark.parametrize("damage", ["tokenizer", "weights", "config"])
async def test_damaged_model_folder_fails_to_load_clearly_and_can_retry(
    tiny_models, tmp_path, damage
):
    folder = tmp_path / "model"
    shutil.copytree(tiny_models["qwen2-audio"], folder)
    target = {
        "tokenizer": "tokenizer.json",
        "weights": "model.safetensors",
        "config": "config.json",
    }[damage]
    original = (folder / target).read_bytes()
    (folder / target).write_bytes(original[: len(original) // 3])
    engine = StreamingEngine(make_config(folder))
    before = thread_names()
    with pytest.raises(Exception) as info:
        await engine.initialize()
    assert str(info.value)
    assert not engine.is_initialized
    items = [i async for i in engine.process_realtime_chunk_streaming(speech_like(), 1)]
    assert [i["error"] for i in items] == ["not_initialized"]
    (folder / target).write_bytes(original)  # repaired: the retry loads
    await engine.initialize()
    assert (await engine.process_realtime_chunk(speech_like(), 2))[
        "text"
    ] == TINY_SENTENCE
    await engine.close()
    assert thread_names() <= before | {"ptt-engine_0"}


async def test_unknown_architecture_in_the_folder(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    engine = StreamingEngine(make_config(tmp_path))
    with pytest.raises(ValueError, match="'bert' is not supported"):
        await engine.initialize()
