"""Model presets, and where a configured model's files come from (local folder or hub cache)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import Config, ServerSettings

EMBEDDED = "embedded"
PRESETS: dict[str, str] = {
    "voxtral-mini": "mistralai/Voxtral-Mini-3B-2507",
    "qwen2-audio": "Qwen/Qwen2-Audio-7B-Instruct",
}


class ModelUnavailable(RuntimeError):
    """The configured model is not on disk and cannot be downloaded; says how to get it."""


def is_url(model_id: str) -> bool:
    return model_id.startswith(("http://", "https://"))


def server_for(config: Config) -> tuple[str, ServerSettings] | None:
    """The server ``model.id`` names (a ``servers`` entry, or a URL: text in, no key), or
    None when the model runs in this process."""
    from core.config import ServerSettings

    model_id = config.model.id
    if model_id in config.servers:
        return model_id, config.servers[model_id]
    if is_url(model_id):
        return model_id, ServerSettings(url=model_id)
    return None


def resolve_preset(model_id: str) -> str:
    return PRESETS.get(model_id, model_id)


def _looks_like_path(model_id: str) -> bool:
    # Hub ids are "org/name"; anything rooted, relative or deeper is a folder.
    return model_id.startswith(("/", ".", "~")) or model_id.count("/") > 1


def model_files(
    model_id: str, progress: Callable[[str, float | None], None] | None = None
) -> str:
    """A local folder for ``model_id``: the folder itself, or the hub snapshot (downloaded on
    first use with a progress display, honouring ``HF_HOME`` and ``HF_HUB_OFFLINE``)."""
    folder = Path(model_id).expanduser()
    if folder.is_dir():
        return str(folder)
    if _looks_like_path(model_id):
        raise ModelUnavailable(f"model folder {model_id} does not exist")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = constants.HF_HUB_OFFLINE
    if progress:
        progress(f"Checking the Hugging Face cache for {model_id}", None)
    try:
        return snapshot_download(model_id, local_files_only=offline)
    except LocalEntryNotFoundError:
        why = (
            "downloads are off (HF_HUB_OFFLINE=1)"
            if offline
            else "the hub could not be reached"
        )
        raise ModelUnavailable(
            f"{model_id} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and {why}. "
            f"On a machine with internet run `hf download {model_id}` and copy the cache folder "
            "here (or point HF_HOME at it), or set model.id to a local folder; "
            "model.id: embedded works with no download at all."
        ) from None
