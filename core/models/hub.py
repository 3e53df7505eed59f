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


def _repo_bytes(model_id: str) -> int:
    """The repository's size, known before any file starts (0 when the hub won't say)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(model_id, files_metadata=True)
        return sum(sibling.size or 0 for sibling in info.siblings or ())
    except Exception as exc:  # noqa: BLE001 - only the progress bar's scale is lost
        log.debug("no size for %s: %s", model_id, exc)
        return 0


def _bytes_reporter(model_id: str, progress: Callable[[str, float | None], None]):
    """A tqdm that huggingface_hub's snapshot_download drives (silent: it draws nothing):
    the bytes written so far, reported through ``progress`` (which may raise to cancel: the
    download stops, files already complete stay in the cache for next time)."""
    from tqdm.auto import tqdm

    state = {"total": None, "done": 0, "shown": 0.0}

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
            if state["total"] is None:
                # snapshot_download learns each file's size only as that file starts:
                # take the whole repository's once, so the bar does not reach 100% after
                # the first small file (asked only when something is being downloaded)
                state["total"] = _repo_bytes(model_id)
            total = max(state["total"], self.total or 0)
            now = time.monotonic()
            if now - state["shown"] >= 0.2 or self._written >= total:
                state["shown"] = now
                progress(
                    f"Downloading {model_id}: {_size(self._written)} of {_size(total)}",
                    self._written / total if total else None,
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
    try:
        return snapshot_download(
            model_id,
            local_files_only=offline,
            tqdm_class=_bytes_reporter(model_id, progress) if progress else None,
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
