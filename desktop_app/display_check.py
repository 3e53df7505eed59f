"""Before Qt starts: can a window open here? If not, say why in words a person can act on.

When no platform plugin can start, Qt aborts the process with a generic message (at best
naming a library one plugin lacked). On Linux the window needs an X11 or a Wayland display
and the system libraries of Qt's matching plugin, so both are checked first.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

# Libraries Qt's xcb and wayland plugins load, and the Debian/Ubuntu package of each.
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}
SETUP_HINT = "scripts/setup installs everything the window needs"
TERMINAL_HINT = "To ask about a recorded clip without a window: ptt-ask CLIP.wav"


def _plugin_dir() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms"


def missing_library(platform: str, plugin_dir: Path | None = None) -> str | None:
    """Why Qt's plugin for ``platform`` can't load (a sentence), or None when it can."""
    plugin = (plugin_dir or _plugin_dir()) / f"libq{platform}.so"
    if not plugin.exists():
        return f"Qt's {platform} plugin is missing ({plugin}); reinstall PySide6"
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        found = re.search(r"(lib[\w.+-]+\.so[\d.]*)", str(exc))
        library = found.group(1) if found else str(exc)
        package = PACKAGES.get(library)
        install = f": sudo apt-get install {package}" if package else ""
        return f"the system library {library} is missing{install} ({SETUP_HINT})"
    return None


def _x11_reachable(name: str) -> str | None:
    try:
        from Xlib import display, error

        display.Display(name).close()
    except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
        return f"cannot connect to the X server at DISPLAY={name} ({exc})"
    return None


def _wayland_reachable(env: Mapping[str, str]) -> str | None:
    name = env.get("WAYLAND_DISPLAY", "wayland-0")
    socket = Path(name) if name.startswith("/") else None
    if socket is None:
        runtime = env.get("XDG_RUNTIME_DIR")
        if not runtime:
            return "XDG_RUNTIME_DIR is not set, so the Wayland display can't be found"
        socket = Path(runtime) / name
    if not socket.exists():
        return f"no Wayland display at {socket}"
    return None


def display_problem(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    plugin_dir: Path | None = None,
) -> str | None:
    """Why no window can open here (a message for the user), or None when one can."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None  # macOS and Windows always have their platform
    requested = [
        p.split(":")[0] for p in env.get("QT_QPA_PLATFORM", "").split(";") if p
    ]
    if requested and not set(requested) & {"xcb", "wayland"}:
        return None  # offscreen, vnc, eglfs...: the user chose it, Qt reports on it
    has_x, has_wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    if not requested and not (has_x or has_wayland):
        return (
            "no graphical display: neither DISPLAY (X11) nor WAYLAND_DISPLAY is set. "
            f"Start it from a desktop session. {TERMINAL_HINT}"
        )
    candidates = requested or (["wayland", "xcb"] if has_wayland else ["xcb"])
    problems = []
    for name in candidates:
        if name == "xcb":
            problem = (
                _x11_reachable(env["DISPLAY"])
                if has_x
                else "DISPLAY is not set (X11, or XWayland in a Wayland session)"
            )
        elif name == "wayland":
            problem = _wayland_reachable(env)
        else:
            continue
        problem = problem or missing_library(name, plugin_dir)
        if problem is None:
            return None
        label = "X11" if name == "xcb" else "Wayland"
        problems.append(f"{label}: {problem}")
    return "the window can't open here. " + "; ".join(problems) + f". {TERMINAL_HINT}"
