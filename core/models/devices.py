"""Where a model runs: device and dtype from the config's ``auto`` defaults.

torch is imported only when the answer needs it: the embedded default on a CPU never does,
and importing it costs seconds of start-up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

_NVIDIA_DRIVER = ("/proc/driver/nvidia/version", "/dev/nvidiactl")


def resolve_device(device: str) -> Any:
    """The ``torch.device`` for a ``model.device`` setting."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"model.device is {device!r} but no CUDA GPU is available; use 'auto' or 'cpu'"
        )
    return resolved


def device_kind(device: str) -> str:
    """``cpu``, ``cuda`` or ``mps`` for a ``model.device`` setting. On Linux with no NVIDIA
    driver loaded there is no CUDA device to find, so ``auto`` is answered without torch."""
    if device == "cpu":
        return "cpu"
    if (
        device == "auto"
        and sys.platform.startswith("linux")
        and not any(os.path.exists(path) for path in _NVIDIA_DRIVER)
    ):
        return "cpu"
    return resolve_device(device).type


def resolve_dtype(dtype: str, device: Any) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {
        "float32": torch.float32,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
    }[dtype]


def physical_cores() -> int:
    """Cores this process may run on, counting each physical core once: compute-bound
    kernels gain nothing from a core's second hardware thread (torch and llama.cpp default to
    the same count)."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(
                (
                    (topology / "physical_package_id").read_text().strip(),
                    (topology / "core_id").read_text().strip(),
                )
            )
        except OSError:
            return len(cpus)
    return len(cores) or len(cpus)
