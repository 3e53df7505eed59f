"""Picking a preset that needs a download: real bytes in the progress bar, a cancel that
stops it, and a retry that finishes and loads the model (the hub is a stand-in serving a
tiny Voxtral-architecture model over real HTTP; see testkit/fake_hub.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from testkit import paths

ROOT = paths.ROOT


def test_download_progress_cancel_and_retry(tiny_models, tmp_path):
    out = tmp_path / "download.json"
    subprocess.run(
        [sys.executable, "-m", "tests.desktop.download_run"]
        + [str(tiny_models["voxtral"]), str(tiny_models["qwen2-audio"]), str(out)],
        check=True,
        cwd=ROOT,
        timeout=240,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    result = json.loads(out.read_text())
    assert "download 9.4 GB · GPU, ~10 GB" in result["listed"]

    watching, cancelled = result["events"][0], result["events"][1]
    # the bar shows real bytes of what is fetched (45 MB here, not the repository's 75 MB
    # with Mistral's format), part-way
    assert round(result["total_bytes"] / 1e6) == 45
    assert "MB of 45 MB" in watching["status"] and 30 <= watching["progress"] < 100
    assert watching["cancel_visible"]
    assert "cancelled" in cancelled["status"] and cancelled["retry_visible"]
    assert not cancelled["cancel_visible"]

    gets = [
        r.split()[1].rsplit("/", 1)[-1]
        for r in result["requests"]
        if r.startswith("GET /mistralai")
    ]
    assert gets.count("padding.safetensors") == 2  # cut off, then fetched again
    # only what the loader reads
    assert "consolidated.safetensors" not in gets and "params.json" not in gets
    assert gets.count("config.json") == 1  # finished before the cancel: kept
    assert result["state"] == "ready" and "Voxtral" in result["description"]
    # listed from the Hugging Face cache now, no longer as a download
    assert (
        result["listed_after"]
        == "mistralai/Voxtral-Mini-3B-2507 (downloaded · GPU, ~10 GB)"
    )
    assert not list(
        (tmp_path / "hf-home").rglob("*.incomplete")
    )  # nothing half-written
