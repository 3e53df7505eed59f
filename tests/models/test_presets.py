"""Presets and where model files come from (core.models.presets), with no network."""

from __future__ import annotations

import importlib

import pytest

from core.models import presets
from core.models.hub import ModelUnavailable, model_files
from core.models.presets import resolve_preset


def test_presets_name_the_hub_models():
    assert resolve_preset("voxtral-mini") == "mistralai/Voxtral-Mini-3B-2507"
    assert resolve_preset("qwen2-audio") == "Qwen/Qwen2-Audio-7B-Instruct"
    assert resolve_preset("someone/other-model") == "someone/other-model"


def test_local_folder_is_used_as_is(tiny_models):
    assert model_files(str(tiny_models["voxtral"])) == str(tiny_models["voxtral"])


def test_missing_local_folder(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        model_files(str(tmp_path / "nope"))


def test_offline_and_not_cached_names_the_model_and_the_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    importlib.reload(huggingface_hub.constants)
    try:
        with pytest.raises(ModelUnavailable) as info:
            model_files(resolve_preset("voxtral-mini"))
    finally:
        monkeypatch.undo()
        importlib.reload(huggingface_hub.constants)
    message = str(info.value)
    assert "mistralai/Voxtral-Mini-3B-2507 is not in the Hugging Face cache" in message
    assert str(tmp_path / "hf") in message and "HF_HUB_OFFLINE=1" in message
    assert "hf download mistralai/Voxtral-Mini-3B-2507" in message
    assert "model.id: embedded" in message


def test_embedded_is_the_default_preset():
    from core.config import Config

    assert Config().model.id == presets.EMBEDDED
