"""What a ``model.id`` names: the one place that decides it, for the config's checks, the
loader, the model picker and the window's remembered choice."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.models.presets import EMBEDDED, PRESETS, RECOGNISERS

Kind = Literal["embedded", "preset", "server", "url", "hub", "folder"]


@dataclass(frozen=True)
class Named:
    kind: Kind
    model_id: str

    @property
    def in_process(self) -> bool:
        """An audio model loaded here (preset, hub id or folder), not embedded nor a server."""
        return self.kind in ("preset", "hub", "folder")

    @property
    def answers_by_server(self) -> bool:
        return self.kind in ("server", "url")


def is_url(model_id: str) -> bool:
    return model_id.startswith(("http://", "https://"))


def _looks_like_path(model_id: str) -> bool:
    # Hub ids are "org/name"; anything rooted, relative or deeper is a folder.
    return (
        model_id.startswith(("/", ".", "~"))
        or model_id.count("/") > 1
        or "\\" in model_id
    )


def what_it_names(model_id: str, servers: Collection[str] = ()) -> Named | None:
    """The kind of model ``model_id`` names given the configured server names, or None when
    it can name nothing (a typo: no preset, server, URL, hub id or folder)."""
    if model_id == EMBEDDED or model_id in RECOGNISERS:
        return Named("embedded", model_id)
    if model_id in PRESETS:
        return Named("preset", model_id)
    if model_id in servers:
        return Named("server", model_id)
    if is_url(model_id):
        return Named("url", model_id)
    if Path(model_id).expanduser().is_dir() or _looks_like_path(model_id):
        return Named("folder", model_id)
    if "/" in model_id:
        return Named("hub", model_id)
    return None


def reserved_names() -> list[str]:
    """Names a ``servers`` entry cannot take."""
    return [EMBEDDED, *RECOGNISERS, *PRESETS]
