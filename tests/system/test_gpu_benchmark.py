"""The GPU benchmarks' scripts run their whole path on the CPU at a tiny size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def tiny_on_cpu(module: str, out: Path, *options: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", module, "--size", "tiny", "--device", "cpu"]
        + ["--tokens", "8", "--runs", "1", "--json", str(out), *options],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(out.read_text())


def test_gpu_voxtral_benchmark_runs_tiny_on_cpu(tmp_path):
    report = tiny_on_cpu("benchmarks.gpu_voxtral", tmp_path / "gpu.json")
    assert (
        report["size"] == "tiny" and report["device"] == "cpu" and report["tokens"] == 8
    )
    # the 30 s audio window is really in the prompt
    assert report["prompt_tokens"] > 375
    assert report["engine_throughput_ratio"] > 0 and report["ttfc_ms"] > 0
    assert report["raw_tokens_per_s"] > 0 and report["machine"]["cores"]


def test_the_gpu_check_runs_tiny_on_cpu(tmp_path):
    """benchmarks/gpu_check.py, the check prepared for an NVIDIA machine, on its whole path
    here: the machine's record, Whisper's placement and what it hears, Voxtral's shapes
    through the engine, the embedded chat in transformers through the real pipeline."""
    report = tiny_on_cpu("benchmarks.gpu_check", tmp_path / "check.json")
    machine = report["environment"]
    assert machine["ctranslate2"] and machine["ctranslate2_cuda_devices"] == 0
    assert machine["cuda_libraries_mapped"] == []  # none on this machine
    assert machine["nvidia_driver_present"] is False and machine["app_gpu_note"] is None
    assert report["whisper_weights"] == "packaged"
    recognizer = report["recognizer"]
    assert recognizer["device"] == "cpu" and recognizer["compute_type"] == "int8"
    assert "france" in recognizer["heard"].lower()
    assert report["voxtral"]["prompt_tokens"] > 375
    assert report["voxtral"]["engine_throughput_ratio"] > 0
    chat = report["embedded_chat"]
    assert "france" in chat["heard"].lower() and chat["generated_tokens"] == 8
    assert chat["tokens_per_s"] > 0 and chat["ttfc_ms"] > 0


def test_the_gpu_check_runs_from_its_bundle_without_the_packaged_weights(tmp_path):
    """What a bare GPU machine gets: the bundle's tokenizers (a few MB, not the 145 MB of
    Whisper's weights nor the 491 MB Qwen GGUF), Whisper as random weights of its shapes."""
    bundle = tmp_path / "bundle"
    made = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_bundle", "--out", str(bundle)]
        + ["--no-wheels"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    sizes = json.loads(made.stdout.splitlines()[-1])
    assert sizes["files"] == ["assets.tar.gz"] and sizes["bundle_mb"] < 6
    report = tiny_on_cpu(
        "benchmarks.gpu_check",
        tmp_path / "check.json",
        "--assets",
        str(bundle / "assets.tar.gz"),
    )
    assert report["whisper_weights"] == "random"
    recognizer = report["recognizer"]
    assert recognizer["device"] == "cpu" and recognizer["recognition_ms"] > 0
    chat = report["embedded_chat"]
    assert chat["generated_tokens"] == 8 and chat["tokens_per_s"] > 0
