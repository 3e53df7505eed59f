"""The conversation as Markdown or JSON, for "Export transcript"."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class TurnRecord:
    mode: str
    clip_s: float
    heard: str | None = None
    answer: str = ""
    interrupted: bool = False
    note: str | None = None  # no speech, or an error's message
    figures: dict[str, float] = field(default_factory=dict)


def to_json(turns: list[TurnRecord]) -> str:
    return json.dumps(
        {"turns": [asdict(t) for t in turns]}, indent=2, ensure_ascii=False
    )


def to_markdown(turns: list[TurnRecord]) -> str:
    lines = ["# Conversation", ""]
    for i, turn in enumerate(turns, 1):
        said = f"“{turn.heard}”" if turn.heard else "(spoken)"
        lines.append(f"**You** ({turn.clip_s:.1f} s clip, {turn.mode}): {said}")
        lines.append("")
        if turn.note:
            lines.append(f"> {turn.note}")
        else:
            suffix = " *(interrupted)*" if turn.interrupted else ""
            lines.append(f"**Assistant:** {turn.answer}{suffix}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
