"""Which of a repository's files a download fetches: those transformers reads (the window's
real download, cancel and retry against the stand-in hub is tests/desktop/test_download.py)."""

from __future__ import annotations

from core.models.hub import fetched_files, not_read

# Voxtral-Mini-3B-2507's layout: transformers' shards beside Mistral's consolidated format
VOXTRAL = {
    "config.json": 1_400,
    "generation_config.json": 100,
    "model-00001-of-00002.safetensors": 4_990_000_000,
    "model-00002-of-00002.safetensors": 4_360_000_000,
    "model.safetensors.index.json": 40_000,
    "preprocessor_config.json": 400,
    "tekken.json": 14_900_000,
    "consolidated.safetensors": 9_350_000_000,
    "params.json": 1_000,
    "README.md": 9_000,
}


def test_a_repository_in_both_formats_fetches_only_transformers_files():
    fetched = fetched_files(VOXTRAL)
    assert "consolidated.safetensors" not in fetched and "params.json" not in fetched
    assert "model-00002-of-00002.safetensors" in fetched and "tekken.json" in fetched
    assert sum(fetched.values()) / 1e9 < 9.4  # what the picker says it downloads


def test_weights_in_another_format_are_all_fetched():
    older = {"config.json": 1_000, "pytorch_model.bin": 30_000_000, "vocab.json": 900}
    assert not_read(list(older)) == []
    assert fetched_files(older) == older
