"""One turn as the user saw it: what was heard, the answer or the note, and its badges."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# What the input itself caused: the same clip or text would fail the same way.
NOT_RETRIED = {"no_speech", "invalid_audio", "invalid_text", "invalid_mode"}


@dataclass
class TurnRecord:
    mode: str
    clip_s: float
    heard: str | None = None
    answer: str = ""
    interrupted: bool = False
    note: str | None = None  # no speech, or an error's message
    error: str | None = None  # the error's code (core.errors.ErrorCode), when it failed
    figures: dict[str, float] = field(default_factory=dict)
    badges: list[str] = field(default_factory=list)
    typed: bool = False  # a typed question (heard holds its words), not a clip

    @property
    def retryable(self) -> bool:
        """Failed for a reason that asking again can cure (a server down, a timeout), not
        for the clip or text itself."""
        return self.error is not None and self.error not in NOT_RETRIED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnRecord:
        """From a stored record; keys a later version added or dropped are let go."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})
