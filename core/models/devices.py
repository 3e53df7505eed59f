"""Where a model runs: device and dtype from the config's ``auto`` defaults.

torch is imported only when the answer needs it: the embedded default on a CPU never does,
and importing it costs seconds of start-up.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

#: an NVIDIA driver's traces: Linux's kernel module
_NVIDIA_DRIVER = ("/proc/driver/nvidia/version", "/dev/nvidiactl")
#: WSL2's: its GPU bridge (any vendor's) and the NVIDIA driver's CUDA library beside it
_WSL_NVIDIA = ("/dev/dxg", "/usr/lib/wsl/lib/libcuda.so.1")
_DRIVER_VERSION = "/proc/driver/nvidia/version"
#: the oldest Linux driver each CUDA major version runs on (NVIDIA's compatibility table)
_DRIVER_FOR_CUDA = {12: 525, 13: 580}


def nvidia_driver_present() -> bool:
    return any(os.path.exists(path) for path in _NVIDIA_DRIVER) or all(
        os.path.exists(path) for path in _WSL_NVIDIA
    )


def recognizer_target(model_device: str) -> str:
    """What Whisper may try, from the ``model.device`` setting and the driver alone (not
    torch: CTranslate2 runs on drivers too old for torch's CUDA, and finds out itself)."""
    if model_device == "cpu" or model_device == "mps" or not nvidia_driver_present():
        return "cpu"
    return model_device


def driver_version() -> str | None:
    """The loaded NVIDIA kernel module's version (``570.86.15``), when Linux says."""
    try:
        text = Path(_DRIVER_VERSION).read_text()
    except OSError:
        return None
    found = re.search(r"Kernel Module\s+(?:for \S+\s+)?(\d+\.\d+(?:\.\d+)?)", text)
    return found.group(1) if found else None


def unusable_gpu() -> str | None:
    """Why torch sees no GPU although an NVIDIA driver is there (too old for the CUDA torch
    was built for, usually), or None: a note for the user, since the model then runs on
    the CPU at a fraction of the speed."""
    if not nvidia_driver_present():
        return None
    import torch

    if torch.cuda.is_available():
        return None
    cuda = torch.version.cuda
    found = driver_version()
    driver = f"driver {found}" if found else "a driver"
    if cuda is None:
        return (
            f"an NVIDIA GPU is here ({driver}), but this PyTorch ({torch.__version__}) is "
            "a CPU build: the model runs on the CPU, slowly"
        )
    needed = _DRIVER_FOR_CUDA.get(int(cuda.split(".")[0]))
    need = f"; CUDA {cuda} needs driver {needed} or newer" if needed else ""
    return (
        f"an NVIDIA GPU is here ({driver}), but PyTorch {torch.__version__} (CUDA {cuda}) "
        f"cannot use it{need}: the model runs on the CPU, slowly. Update the NVIDIA driver"
    )


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


def resolve_dtype(dtype: str, device: Any) -> Any:
    """``auto``: bfloat16 on a GPU that computes it natively (Ampere and newer), float16 on
    an older one, where bfloat16 is emulated and slow; float32 on the CPU."""
    import torch

    if dtype == "auto":
        if device.type != "cuda":
            return torch.float32
        # computed natively from Ampere (compute capability 8) on, on this very GPU
        native = torch.cuda.get_device_capability(device)[0] >= 8
        return torch.bfloat16 if native else torch.float16
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
