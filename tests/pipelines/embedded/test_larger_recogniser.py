"""The embedded default hearing with a larger Whisper from the hub (``embedded-large-v3-turbo``,
``embedded-distil-large-v3``): offered with its download size, downloaded on first use with
progress, then used from the cache with no network, and a clear way out when it cannot be
had. The hub is a true boundary: a fake one (testkit.fake_hub) serves the repository over
real HTTP to the real huggingface_hub client, holding the packaged Whisper base's files under
the large model's name (the real 1.6 GB cannot come here), so the whole path runs: the
listing, the download, faster-whisper loading the snapshot, and a spoken question answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from core.config import validate_config
from core.models.packaged import WHISPER_BASE, assemble, default_cache_dir
from core.models.presets import RECOGNISERS
from core.pipelines.catalog import choices
from testkit import paths
from testkit.fake_hub import FakeHub

TURBO = "embedded-large-v3-turbo"


def ptt_ask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", str(paths.SAMPLE_QUESTION), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


def test_the_picker_offers_each_larger_recogniser_with_its_download_size():
    listed = {c.model_id: c for c in choices(validate_config({}))}
    for model_id, larger in RECOGNISERS.items():
        choice = listed[model_id]
        assert choice.label.startswith(f"Embedded + {larger.name} (")
        if choice.kind == "download":  # not in this machine's Hugging Face cache
            assert f"download {larger.download_gb:.1f} GB" in choice.label
        assert "GPU" in choice.label and larger.hub_id in choice.note
    assert list(listed)[:3] == ["embedded", *RECOGNISERS]  # beside the default


def test_downloaded_on_first_use_then_heard_with_from_the_cache(tmp_path):
    base = assemble(WHISPER_BASE, default_cache_dir())
    files = {p.name: p.read_bytes() for p in base.iterdir() if p.is_file()}
    hub_id = RECOGNISERS[TURBO].hub_id
    hub = FakeHub(hub_id, files)
    home = str(tmp_path / "hf-home")
    try:
        online = {
            "HF_ENDPOINT": hub.url,
            "HF_HOME": home,
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_XET": "1",  # the fake hub serves plain HTTP files
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
        first = ptt_ask(online, "--model", TURBO, "--json")
    finally:
        hub.close()
    assert first.returncode == 0, first.stderr
    assert f"Checking the Hugging Face cache for {hub_id}" in first.stderr
    assert any(r.startswith(f"GET /{hub_id}/resolve/") for r in hub.requests)
    items = [json.loads(line) for line in first.stdout.splitlines()]
    assert "france" in items[-1]["heard"].lower(), items[-1]
    assert "paris" in " ".join(it["text"] for it in items).lower()

    # the hub gone and downloads off: the cached snapshot is what it hears with
    again = ptt_ask({"HF_HOME": home, "HF_HUB_OFFLINE": "1"}, "--model", TURBO)
    assert again.returncode == 0, again.stderr
    assert "paris" in again.stdout.lower()


def test_offline_and_not_downloaded_says_how_to_get_it(tmp_path):
    result = ptt_ask(
        {"HF_HOME": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1"}, "--model", TURBO
    )
    hub_id = RECOGNISERS[TURBO].hub_id
    assert result.returncode != 0
    assert f"{hub_id} is not in the Hugging Face cache" in result.stderr
    assert f"hf download {hub_id}" in result.stderr
    assert "model.id: embedded works with no download" in result.stderr
    assert "Traceback" not in result.stderr
