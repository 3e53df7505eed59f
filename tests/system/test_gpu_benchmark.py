"""The GPU benchmark's script runs its whole path on the CPU at a tiny size."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_gpu_voxtral_benchmark_runs_tiny_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.gpu_voxtral",
            "--size",
            "tiny",
            "--device",
            "cpu",
            "--tokens",
            "8",
            "--runs",
            "1",
            "--json",
            str(out),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert (
        report["size"] == "tiny" and report["device"] == "cpu" and report["tokens"] == 8
    )
    assert (
        report["prompt_tokens"] > 375
    )  # the 30 s audio window is really in the prompt
    assert report["engine_throughput_ratio"] > 0 and report["ttfc_ms"] > 0
    assert report["raw_tokens_per_s"] > 0 and report["machine"]["cores"]
