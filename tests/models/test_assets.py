"""Packaged-model assembly (core.models.packaged) on small parts made by the test."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from core.models import packaged as assets
from core.models.packaged import AssetError, PackagedModel, Part


@pytest.fixture
def packaged(tmp_path, monkeypatch):
    """Two fake installed packages holding a file split in two, plus a config file."""
    site = tmp_path / "site"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    halves = (payload[: len(payload) // 2], payload[len(payload) // 2 :])
    for i, half in enumerate(halves, 1):
        pkg = site / f"fake_model_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise ImportError('never imported')\n")
        (pkg / "data" / f"part{i}.bin").write_bytes(half)
    (site / "fake_model_part2" / "data" / "config.json").write_text('{"a": 1}')
    monkeypatch.syspath_prepend(str(site))
    model = PackagedModel(
        name="fake",
        filename="model.bin",
        parts=tuple(
            Part(f"fake-model-part{i}==1.0", f"fake_model_part{i}", f"data/part{i}.bin")
            for i in (1, 2)
        ),
        sha256=hashlib.sha256(payload).hexdigest(),
        extra_files=(
            Part("fake-model-part2==1.0", "fake_model_part2", "data/config.json"),
        ),
    )
    return model, payload, site


def test_assembles_verifies_and_reports_progress(packaged, tmp_path):
    model, payload, _ = packaged
    seen = []
    folder = assets.assemble(
        model, tmp_path / "cache", lambda msg, frac: seen.append((msg, frac))
    )
    assert (folder / "model.bin").read_bytes() == payload
    assert json.loads((folder / "config.json").read_text()) == {"a": 1}
    assert seen and seen[-1] == ("Assembling fake", 1.0)
    assert all(0 < f <= 1 for _, f in seen)
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "verified.json",
    ]


def test_second_start_reuses_the_cache_without_reading_the_parts(packaged, tmp_path):
    model, _, site = packaged
    cache = tmp_path / "cache"
    assets.assemble(model, cache)
    before = (cache / "fake" / "model.bin").stat().st_mtime_ns
    for part in site.glob("fake_model_part*/data/part*.bin"):
        part.unlink()  # the packages are no longer even needed
    assets.assemble(model, cache)
    assert (cache / "fake" / "model.bin").stat().st_mtime_ns == before


def test_a_changed_cached_file_is_assembled_again(packaged, tmp_path):
    model, payload, _ = packaged
    cache = tmp_path / "cache"
    target = assets.assemble(model, cache) / "model.bin"
    target.write_bytes(b"truncated")
    assets.assemble(model, cache)
    assert target.read_bytes() == payload


def test_checksum_mismatch_is_a_clear_error_and_leaves_nothing(packaged, tmp_path):
    model, _, site = packaged
    with (site / "fake_model_part2" / "data" / "part2.bin").open("r+b") as f:
        f.write(b"\x00\x01\x02")  # damaged install
    cache = tmp_path / "cache"
    with pytest.raises(AssetError, match="checksum mismatch") as info:
        assets.assemble(model, cache)
    assert "fake-model-part1==1.0 fake-model-part2==1.0 --force-reinstall" in str(
        info.value
    )
    assert not (cache / "fake" / "model.bin").exists()
    assert [p.name for p in (cache / "fake").iterdir()] == []


def test_missing_package_says_what_to_install(packaged, tmp_path):
    model, _, _ = packaged
    missing = PackagedModel(
        name="fake",
        filename="model.bin",
        parts=(
            *model.parts,
            Part("not-installed-pkg==2.0", "not_installed_pkg_xyz", "a.bin"),
        ),
        sha256=model.sha256,
    )
    with pytest.raises(
        AssetError, match="not-installed-pkg is not installed; install it with: pip"
    ):
        assets.assemble(missing, tmp_path / "cache")


def test_the_real_packages_are_described_with_pins_and_licenses():
    for model in (assets.WHISPER_BASE, assets.QWEN_CODER_05B, assets.SMOLLM2_135M):
        assert all("==" in p.package for p in model.parts)
        assert len(model.sha256) == 64 and model.license and model.upstream


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PTT_CACHE_DIR", str(tmp_path / "x"))
    assert assets.default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("PTT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert assets.default_cache_dir() == tmp_path / "xdg" / "ptt-assistant"
