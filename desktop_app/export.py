"""The conversation as Markdown or JSON, for "Export transcript"."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from core.history.record import TurnRecord


def to_json(turns: list[TurnRecord]) -> str:
    return json.dumps(
        {"turns": [t.to_dict() for t in turns]}, indent=2, ensure_ascii=False
    )


def to_markdown(turns: list[TurnRecord]) -> str:
    lines = ["# Conversation", ""]
    for i, turn in enumerate(turns, 1):
        said = f"“{turn.heard}”" if turn.heard else "(spoken)"
        how = "typed" if turn.typed else f"{turn.clip_s:.1f} s clip, {turn.mode}"
        lines.append(f"**You** ({how}): {said}")
        lines.append("")
        if turn.note:
            lines.append(f"> {turn.note}")
        else:
            suffix = " *(interrupted)*" if turn.interrupted else ""
            lines.append(f"**Assistant:** {turn.answer}{suffix}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write(turns: list[TurnRecord], path: Path) -> None:
    """Markdown, or JSON when the name ends in ``.json``."""
    text = to_json(turns) if path.suffix.lower() == ".json" else to_markdown(turns)
    path.write_text(text, encoding="utf-8")


def export_dialog(turns: list[TurnRecord], parent: QWidget | None = None) -> str | None:
    """Ask where to save the conversation and save it there; returns a note for the chat
    when there is nothing to save or it could not be written."""
    if not turns:
        return "Nothing to export yet: ask something first."
    name, _ = QFileDialog.getSaveFileName(
        parent,
        "Export conversation",
        "conversation.md",
        "Markdown (*.md);;JSON (*.json)",
    )
    if name:
        try:
            write(turns, Path(name))
        except OSError as exc:
            return f"Could not export: {exc}"
    return None
