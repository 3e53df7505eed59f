"""What can answer: the embedded default, the configured servers, audio models already in
the Hugging Face cache, and the presets that need a download (with their size and what they
need to run). The window's model picker lists these; nothing here touches the network."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Literal

from core.config import Config
from core.models.presets import EMBEDDED, PRESETS, RECOGNISERS
from core.pipelines.audio_lm.families.registry import BACKENDS

log = logging.getLogger(__name__)

Kind = Literal["embedded", "server", "downloaded", "download"]


@dataclass(frozen=True)
class Choice:
    #: what ``model.id`` is set to when this is picked
    model_id: str
    label: str
    kind: Kind
    #: a line of detail: what it is, its size and needs, where it answers
    note: str


def _embedded(config: Config) -> Choice:
    return Choice(
        EMBEDDED,
        "Embedded (offline)",
        "embedded",
        f"Whisper base + {config.embedded.chat_model}, on this machine, ready",
    )


def _cached(hub_id: str) -> bool:
    """Whether a recogniser's weights are in the Hugging Face cache (no scan, no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(hub_id, "model.bin"), str)
    except Exception as exc:  # noqa: BLE001 - no cache: not downloaded
        log.debug("no Hugging Face cache: %s", exc)
        return False


def _larger_recognisers(config: Config) -> list[Choice]:
    """The embedded default hearing with a larger Whisper: better in noise, echo and other
    languages, and worth it on a GPU."""
    listed = []
    for model_id, larger in RECOGNISERS.items():
        here = _cached(larger.hub_id)
        state = "downloaded" if here else f"download {larger.download_gb:.1f} GB"
        listed.append(
            Choice(
                model_id,
                f"Embedded + {larger.name} ({state} · {larger.needs})",
                "downloaded" if here else "download",
                f"{larger.hub_id} + {config.embedded.chat_model}, on this machine"
                + (
                    ""
                    if here
                    else f"; downloads {larger.download_gb:.1f} GB on first use"
                )
                + f"; needs a {larger.needs}",
            )
        )
    return listed


def _servers(config: Config) -> list[Choice]:
    return [
        Choice(
            name,
            f"Server: {name}",
            "server",
            f"{settings.model or 'its model'} at {settings.url}, {settings.input} in",
        )
        for name, settings in config.servers.items()
    ]


def downloaded_audio_models() -> list[tuple[str, int]]:
    """(hub id, bytes on disk) of Voxtral / Qwen2-Audio checkpoints in the Hugging Face cache
    whose config is there (complete enough to try loading)."""
    try:
        from huggingface_hub import scan_cache_dir

        cache = scan_cache_dir()
    except Exception as exc:  # noqa: BLE001 - no cache is an empty list
        log.debug("no Hugging Face cache: %s", exc)
        return []
    found = []
    for repo in cache.repos:
        if repo.repo_type != "model":
            continue
        for revision in repo.revisions:
            config = next(
                (f.file_path for f in revision.files if f.file_name == "config.json"),
                None,
            )
            try:
                model_type = (
                    json.loads(config.read_text()).get("model_type") if config else None
                )
            except (OSError, ValueError):
                model_type = None
            if model_type in BACKENDS:
                found.append((repo.repo_id, repo.size_on_disk))
                break
    return sorted(found)


def choices(config: Config) -> list[Choice]:
    """Everything the picker offers, in the order shown."""
    found = downloaded_audio_models()
    have = {repo_id for repo_id, _ in found}
    listed = [_embedded(config), *_larger_recognisers(config), *_servers(config)]
    by_hub_id = {preset.hub_id: name for name, preset in PRESETS.items()}
    for repo_id, size in found:
        preset = by_hub_id.get(repo_id)
        needs = PRESETS[preset].needs if preset else None
        listed.append(
            Choice(
                preset or repo_id,
                f"{repo_id} (downloaded · {needs})"
                if needs
                else f"{repo_id} (downloaded)",
                "downloaded",
                f"{size / 1e9:.1f} GB in the Hugging Face cache"
                + (f"; needs a {needs}" if needs else ""),
            )
        )
    for name, info in PRESETS.items():
        hub_id = info.hub_id
        if hub_id in have:
            continue
        listed.append(
            Choice(
                name,
                # what it needs in the name itself, not only in a tooltip
                f"{hub_id} (download {info.download_gb:.1f} GB · {info.needs})",
                "download",
                f"downloads {info.download_gb:.1f} GB on first use; needs a {info.needs}",
            )
        )
    if config.model.id not in {c.model_id for c in listed}:
        # A hub id, folder or server URL given in the config or on the command line.
        listed.append(
            Choice(config.model.id, config.model.id, "downloaded", "from the config")
        )
    return listed
