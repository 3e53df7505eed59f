"""The local date and time, told to a chat model that otherwise believes it is the year its
training data ended."""

from __future__ import annotations

from datetime import datetime


def time_message(now: datetime | None = None) -> dict[str, str]:
    """A system message with the local weekday, date, time and UTC offset. It goes just
    before the question, after the system prompt and the remembered turns, so the prompt
    cache keeps everything before it."""
    now = now or datetime.now().astimezone()
    offset = now.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "local time"
    when = f"{now:%A}, {now.day} {now:%B %Y}, {now:%H:%M} ({zone})"
    return {"role": "system", "content": f"It is now {when}."}
