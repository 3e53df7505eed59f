"""Model loading (core.pipelines.loading, core.pipelines.audio_lm.families.registry) and the tiny-model builder's command line."""

from __future__ import annotations

import gc
import json
import logging
import subprocess
import sys
import weakref

import pytest
import torch

from core.config import ModelSettings
from core.models.devices import (
    physical_cores,
    recognizer_target,
    resolve_device,
    resolve_dtype,
)
from core.pipelines.audio_lm.families.registry import backend_for
from core.pipelines.audio_lm.pipeline import AudioLMPipeline
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import collect, make_engine, speech_like


def load(folder, **settings) -> AudioLMPipeline:
    return AudioLMPipeline.load(
        ModelSettings(device="cpu", **settings), str(folder), "auto"
    )


def test_family_is_chosen_by_the_checkpoint(tiny_models):
    for arch, model_type, cls in [
        ("voxtral", "voxtral", "VoxtralForConditionalGeneration"),
        ("qwen2-audio", "qwen2_audio", "Qwen2AudioForConditionalGeneration"),
    ]:
        loaded = load(tiny_models[arch])
        assert loaded.backend.model_type == model_type
        assert type(loaded.model).__name__ == cls
        assert loaded.sample_rate == 16000
        assert loaded.dtype == torch.float32 and loaded.device.type == "cpu"


def test_unsupported_architecture_names_the_supported_ones(tmp_path):
    with pytest.raises(
        ValueError, match="'llama' is not supported; supported: qwen2_audio, voxtral"
    ):
        backend_for("llama")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ValueError, match="'gpt2' is not supported"):
        load(tmp_path)


def test_device_and_dtype_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    # on CUDA: bfloat16 only on a card that computes it, by its compute capability
    # (tests/models/test_devices.py, with the capability injected: there is no GPU here)
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU is available"):
            resolve_device("cuda")
        assert resolve_device("auto").type == "cpu"


def test_torch_free_answers_agree_with_torch_and_cores_with_torchs_default():
    """The torch-free answers the embedded default starts with must be torch's own here (a
    driver too old for torch's CUDA is where they part: tests/models/test_devices.py)."""
    for setting in ("auto", "cpu"):
        assert recognizer_target(setting) == resolve_device(setting).type
    assert physical_cores() == torch.get_num_threads()


async def test_bfloat16_on_cpu_when_the_config_asks(tiny_models):
    engine = await make_engine(tiny_models["qwen2-audio"], model={"dtype": "bfloat16"})
    assert engine.pipeline.model.dtype == torch.bfloat16
    inputs = engine._prepare_turn(speech_like(), "conversation").inputs
    assert inputs["input_features"].dtype == torch.bfloat16
    assert inputs["input_ids"].dtype == torch.long
    result = await engine.process_realtime_chunk(speech_like(), 1)
    assert result["text"] == TINY_SENTENCE
    await engine.close()


def test_trust_remote_code_is_off_unless_asked_and_logged(tiny_models, caplog):
    assert ModelSettings().trust_remote_code is False
    with caplog.at_level(logging.WARNING, logger="core.pipelines.audio_lm.pipeline"):
        load(tiny_models["voxtral"], trust_remote_code=True)
    assert "trust_remote_code is on" in caplog.text


def test_tiny_model_command_writes_a_loadable_folder(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "testkit.tiny_model",
            str(tmp_path / "m"),
            "--arch",
            "qwen2-audio",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m" / "config.json").exists()
    assert sum(f.stat().st_size for f in (tmp_path / "m").iterdir()) < 2_000_000
    loaded = load(tmp_path / "m")
    assert loaded.backend.model_type == "qwen2_audio"


async def test_every_log_line_of_a_call_carries_its_chunk_id(engine, caplog):
    with caplog.at_level(logging.DEBUG, logger="core.engine"):
        await collect(engine.process_realtime_chunk_streaming(speech_like(), "turn-42"))
        await collect(
            engine.process_realtime_chunk_streaming(speech_like(), "turn-43", "nope")
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "core.engine"]
    assert any("start" in line for line in lines) and any(
        "first chunk" in line for line in lines
    )
    assert any("end:" in line for line in lines) and any(
        "invalid_mode" in line for line in lines
    )
    assert all(
        "chunk_id=turn-42" in line or "chunk_id=turn-43" in line for line in lines
    )


async def test_closing_gives_the_model_back(tiny_models):
    """After a switch away, nothing holds the old model: once collected, it is gone (on a
    GPU its memory then goes back; benchmarks/gpu_voxtral.py measures that there)."""
    engine = await make_engine(tiny_models["voxtral"])
    items = await collect(engine.process_realtime_chunk_streaming(speech_like(), 1))
    assert items[-1]["success"]
    model = weakref.ref(engine.pipeline.model)
    assert engine.pipeline.collect_after_close
    await engine.close()
    gc.collect()
    assert model() is None
