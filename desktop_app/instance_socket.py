"""Where the running window listens for commands (``desktop_app.remote``): the standard
library only, so that a command can find it without importing Qt."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def socket_path() -> Path:
    """The running window's socket: in the user's runtime directory (private to them),
    else the temp directory under a name with the user id."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "ptt-assistant.sock"
    return Path(tempfile.gettempdir()) / f"ptt-assistant-{os.getuid()}.sock"
