"""The engine's threads yield the CPU to the window.

On Linux a thread's nice value is its own, and the threads it starts inherit it: raising it
on the engine's worker threads also lowers every thread the models start from them
(llama.cpp's loop and compute threads, CTranslate2's, PyTorch's). With two cores and two
compute threads, a window at the same priority waited its turn for a core: its longest stall
per turn was 16-24 ms; with the compute threads at nice 10, 5-12 ms.
Decoding alone is not slowed (nothing else wants the cores); against other busy programs the
engine gets a smaller share.

numpy's OpenBLAS is the exception: its helper thread starts when numpy is imported, at the
importer's priority, and spins ~0.1 s after each matrix product (~120 ms of a core per turn
here, for Whisper's small feature products). It is kept to the calling thread instead.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: how much lower than the window the engine's threads run (0 .. 19; 0 keeps them equal)
ENGINE_NICE = 10


def lower_this_thread(nice: int = ENGINE_NICE) -> None:
    """Raise the calling thread's nice value to ``nice`` (never lower it). Linux only: on
    other systems the call would lower the whole process, window included."""
    if not sys.platform.startswith("linux") or nice <= 0:
        return
    try:
        # PRIO_PROCESS with 0 is the calling thread on Linux, not the process.
        if os.getpriority(os.PRIO_PROCESS, 0) < nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as exc:  # a sandbox's policy, say: run at the same priority then
        log.debug("could not lower the engine thread's priority: %s", exc)


def keep_blas_on_the_calling_thread() -> None:
    """numpy's matrix products run on the thread that asks for them (see above). Only the
    OpenBLAS numpy's wheel ships: a BLAS that PyTorch loads (on ARM) keeps its threads."""
    from threadpoolctl import ThreadpoolController

    for blas in ThreadpoolController().select(user_api="blas").lib_controllers:
        # numpy.libs/ (Linux, Windows) or numpy/.dylibs/ (macOS)
        if any(part.startswith("numpy") for part in Path(blas.filepath).parts[-3:-1]):
            blas.set_num_threads(1)
