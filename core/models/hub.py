"""Where an audio model's files come from: a local folder, or the Hugging Face cache with a
download on first use (progress reported, cancellable)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from core.models.names import what_it_names

log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """The configured model is not on disk and cannot be downloaded; says how to get it."""


def _size(count: int) -> str:
    return f"{count / 1e9:.2f} GB" if count >= 1e9 else f"{count / 1e6:.0f} MB"


#: what transformers never reads from a repository that has its own safetensors: Mistral's
#: consolidated format (Voxtral ships both, doubling the download), other frameworks'
#: weights and PyTorch pickles
NOT_READ = [
    "consolidated*",
    "params.json",
    "original/*",
    "*.bin",
    "*.pt",
    "*.pth",
    "*.h5",
    "*.msgpack",
    "*.onnx",
    "*.gguf",
    "*.tflite",
]


def not_read(names: list[str]) -> list[str]:
    """Patterns of the files the loader does not read, given the repository's files: none
    when it has no transformers safetensors (its weights are then in another format)."""
    transformers_weights = [
        name
        for name in names
        if name.endswith(".safetensors")
        and not name.rsplit("/", 1)[-1].startswith("consolidated")
    ]
    return NOT_READ if transformers_weights else []


#: a hub that does not list the repository in this long is treated as one that won't say
LISTING_TIMEOUT_S = 10.0


def _listing(model_id: str) -> dict[str, int] | None:
    """The repository's files and their sizes, before any starts (None when the hub won't
    say)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(
            model_id, files_metadata=True, timeout=LISTING_TIMEOUT_S
        )
    except Exception as exc:  # noqa: BLE001 - only the choice of files and the scale are lost
        log.debug("no file list for %s: %s", model_id, exc)
        return None
    return {sibling.rfilename: sibling.size or 0 for sibling in info.siblings or ()}


def fetched_files(listing: dict[str, int]) -> dict[str, int]:
    """The files of ``listing`` a download fetches: those the loader reads."""
    from huggingface_hub.utils import filter_repo_objects

    kept = filter_repo_objects(listing, ignore_patterns=not_read(list(listing)))
    return {name: listing[name] for name in kept}


def _bytes_reporter(
    model_id: str, progress: Callable[[str, float | None], None], total: int
):
    """A tqdm that huggingface_hub's snapshot_download drives (silent: it draws nothing):
    the bytes written so far, reported through ``progress`` (which may raise to cancel: the
    download stops, files already complete stay in the cache for next time)."""
    from tqdm.auto import tqdm

    state = {"shown": 0.0}

    class Bar(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            desc = kwargs.get("desc") or ""
            # the byte counter of what is written to disk (not the file count, nor the
            # network-side "Downloading bytes" counter)
            self._bytes = kwargs.get("unit") == "B" and not desc.startswith(
                "Downloading"
            )
            self._written = kwargs.get("initial") or 0
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            if not self._bytes:
                return
            self._written += n or 0
            # snapshot_download learns each file's size only as that file starts: the
            # listing's total, so the bar does not reach 100% after the first small file
            whole = max(total, self.total or 0)
            now = time.monotonic()
            if now - state["shown"] >= 0.2 or self._written >= whole:
                state["shown"] = now
                progress(
                    f"Downloading {model_id}: {_size(self._written)} of {_size(whole)}",
                    self._written / whole if whole else None,
                )
            return

    return Bar


def model_files(
    model_id: str, progress: Callable[[str, float | None], None] | None = None
) -> str:
    """A local folder for ``model_id``: the folder itself, or the hub snapshot (downloaded on
    first use with a progress display, honouring ``HF_HOME`` and ``HF_HUB_OFFLINE``)."""
    named = what_it_names(model_id)
    if named is not None and named.kind == "folder":
        folder = Path(model_id).expanduser()
        if folder.is_dir():
            return str(folder)
        raise ModelUnavailable(f"model folder {model_id} does not exist")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = constants.HF_HUB_OFFLINE
    if progress:
        progress(f"Checking the Hugging Face cache for {model_id}", None)
    if progress and not offline:
        # Plain HTTP, not hf_xet: its progress comes from Rust and a cancel raised in that
        # callback is not seen, while HTTP downloads report every chunk and stop on cancel.
        constants.HF_HUB_DISABLE_XET = True
    listing = None if offline else _listing(model_id)
    fetched = fetched_files(listing) if listing else {}
    try:
        return snapshot_download(
            model_id,
            local_files_only=offline,
            ignore_patterns=not_read(list(listing)) if listing else None,
            tqdm_class=_bytes_reporter(model_id, progress, sum(fetched.values()))
            if progress
            else None,
        )
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
