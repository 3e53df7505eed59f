"""The engine's compute threads yield the CPU to the window.

On Linux a thread's nice value is its own, and the threads it starts inherit it. The
engine's loading and recognition thread runs ENGINE_NICE lower than the thread that made
the engine (the window's), and so do the threads the models start from it: llama.cpp's
loop and compute threads and CTranslate2's. With as many compute threads as cores, a window
at the same priority waits its turn for a core; decoding is no slower for it (the figures
are in docs/design-notes.md). Nice orders threads within their scheduling group (the process's session or the desktop's
per-app cgroup): it ranks the engine below its own window, not below other programs.

The thread that hands the words over stays at the caller's priority: it holds the GIL for
each, and a lowered thread holding the GIL while waiting for a core would stall the window
(docs/design-notes.md). numpy's OpenBLAS is kept to the calling thread: its helper thread
starts when numpy is imported, at the importer's priority, and spins after each matrix
product, a core's worth of time per turn for Whisper's small feature products.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: how much lower than the window the engine's compute threads run (0 keeps them equal)
ENGINE_NICE = 10


def lower_this_thread(by: int = ENGINE_NICE) -> None:
    """Raise the calling thread's nice value by ``by`` (at most to 19). Linux only: on
    other systems the call would lower the whole process, window included."""
    if not sys.platform.startswith("linux") or by <= 0:
        return
    try:
        # PRIO_PROCESS with 0 is the calling thread on Linux, not the process.
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, min(19, nice + by))
    except OSError as exc:  # a sandbox's policy, say: run at the same priority then
        log.debug("could not lower the engine thread's priority: %s", exc)


def keep_blas_on_the_calling_thread() -> None:
    """numpy's matrix products run on the thread that asks for them, for the rest of the
    process (see above). Only the OpenBLAS numpy's wheel ships: a BLAS that PyTorch loads
    (on ARM) keeps its threads."""
    from threadpoolctl import ThreadpoolController

    kept = False
    for blas in ThreadpoolController().select(user_api="blas").lib_controllers:
        # numpy.libs/ (Linux, Windows) or numpy/.dylibs/ (macOS)
        if any(part.startswith("numpy") for part in Path(blas.filepath).parts[-3:-1]):
            blas.set_num_threads(1)
            kept = True
    if not kept:
        log.debug(
            "numpy's BLAS is not its wheel's OpenBLAS: its threads are left as they are"
        )


def engine_thread() -> None:
    """The engine's loading and recognition thread, at its start."""
    lower_this_thread()
    keep_blas_on_the_calling_thread()
