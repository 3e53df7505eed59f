"""Where Whisper runs: on the GPU only when CTranslate2 can really use it there, else on the
CPU, saying why.

CTranslate2's wheel is built for CUDA 12 and opens cuBLAS 12 by name at its first matrix
product, while PyTorch's CUDA build brings cuBLAS 13: a GPU that CTranslate2 counts may
still fail at the first clip. So ``auto`` loads Whisper on the GPU and runs one short
recognition there before it trusts it; on any failure it loads on the CPU (fast enough for
a question) with a reason for the status line. An explicit ``cuda`` that cannot run is a
load error naming the missing library and the command that brings it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)

Wanted = Literal["auto", "cpu", "cuda"]

#: the optional extra with CTranslate2's CUDA 12 libraries (pyproject.toml)
CUDA_EXTRA = "cuda-recognizer"
CUDA_FIX = (
    f".venv/bin/pip install -e '.[{CUDA_EXTRA}]' (in the checkout; it brings "
    "nvidia-cublas-cu12 and nvidia-cudnn-cu12)"
)
# Preferred compute types on a GPU, best first: Whisper base is small, so float16 loses
# nothing, and int8 is refused on the newest cards.
_GPU_TYPES = ("float16", "int8_float16", "float32")
# The CUDA 12 libraries CTranslate2 opens by name, in the extra's wheels.
_CUDA12_LIBRARIES = (
    ("nvidia.cublas", ("libcublasLt.so.12", "libcublas.so.12")),
    ("nvidia.cudnn", ("libcudnn.so.9",)),
)


class RecognizerDeviceError(RuntimeError):
    """``embedded.recognizer_device: cuda`` cannot run; the message says why and the fix."""


@dataclass(frozen=True)
class Placement:
    device: Literal["cpu", "cuda"]
    compute_type: str
    #: why the GPU is not used although ``auto`` tried it, for the status line and the log
    fallback: str | None = None


def wanted_device(recognizer_device: str, model_device: str) -> Wanted:
    """``embedded.recognizer_device``, with ``auto`` following ``model.device: cpu``."""
    if recognizer_device != "auto":
        return recognizer_device  # type: ignore[return-value]
    return "cpu" if model_device == "cpu" else "auto"


def gpu_index(model_device: str) -> int:
    """The GPU ``model.device`` names: ``cuda:1`` is 1; ``cuda`` and ``auto`` the first."""
    _, _, index = model_device.partition(":")
    return int(index) if index.isdigit() else 0


def compute_type_for(setting: str, device: str, supported: set[str]) -> str:
    """``auto``: int8 on the CPU, the best type the GPU supports on CUDA."""
    if setting != "auto":
        return setting
    if device == "cuda":
        return next((t for t in _GPU_TYPES if t in supported), "float32")
    return "int8"


def cuda_device_count() -> int:
    import ctranslate2

    try:
        return ctranslate2.get_cuda_device_count()
    except Exception as exc:  # noqa: BLE001 - a broken CUDA runtime counts as none
        log.debug("CTranslate2 finds no CUDA device: %s", exc)
        return 0


def preload_cuda12_libraries() -> list[str]:
    """Load the extra's CUDA 12 libraries by path, so that CTranslate2 finds them when it
    opens them by name; returns the ones loaded (none without the extra)."""
    loaded = []
    for module, names in _CUDA12_LIBRARIES:
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations))) / "lib"
        for name in names:
            if (folder / name).is_file():
                ctypes.CDLL(str(folder / name), mode=ctypes.RTLD_GLOBAL)
                loaded.append(name)
    return loaded


def missing_library(exc: BaseException) -> str | None:
    """The shared library a CUDA failure names (``libcublas.so.12``), if it names one."""
    found = re.search(r"\b(lib[\w+-]+\.so(?:\.\d+)*)", str(exc))
    return found.group(1) if found else None


def _why(exc: BaseException) -> str:
    library = missing_library(exc)
    if library:
        return f"CTranslate2 cannot load {library} ({CUDA_FIX})"
    return f"CTranslate2 cannot use the GPU: {exc}"


def _first_recognition(model: Any) -> None:
    """One short recognition: a missing cuBLAS shows at the first matrix product, not at
    load."""
    segments, _info = model.transcribe(
        np.zeros(16000, np.float32), beam_size=1, language="en", vad_filter=False
    )
    list(segments)


def open_whisper(
    folder: str, wanted: Wanted, compute_setting: str, threads: int, index: int = 0
) -> tuple[Any, Placement]:
    """Whisper loaded where ``wanted`` says (on GPU ``index``), and where it ended up."""
    from faster_whisper import WhisperModel

    fallback = None
    if wanted != "cpu":
        count = cuda_device_count()
        if count == 0 and wanted == "cuda":
            raise RecognizerDeviceError(
                "embedded.recognizer_device is cuda, but CTranslate2 finds no CUDA GPU "
                "(no NVIDIA driver, or one too old for CUDA 12); set it to auto or cpu"
            )
        if count and index >= count:
            missing = (
                f"model.device names GPU {index}, but CTranslate2 finds {count} "
                f"(numbered from 0)"
            )
            if wanted == "cuda":
                raise RecognizerDeviceError(f"{missing}; set model.device to cuda:0")
            fallback = f"speech recognition runs on the CPU: {missing}"
            log.warning("%s", fallback)
        elif count:
            try:
                import ctranslate2

                preload_cuda12_libraries()
                compute_type = compute_type_for(
                    compute_setting,
                    "cuda",
                    ctranslate2.get_supported_compute_types("cuda", index),
                )
                model = WhisperModel(
                    folder, device="cuda", device_index=index, compute_type=compute_type
                )
                _first_recognition(model)
                return model, Placement("cuda", compute_type)
            except Exception as exc:  # noqa: BLE001 - any failure: the CPU, with the reason
                if wanted == "cuda":
                    raise RecognizerDeviceError(
                        f"embedded.recognizer_device is cuda, but {_why(exc)}; or set "
                        "embedded.recognizer_device: cpu"
                    ) from None
                fallback = f"speech recognition runs on the CPU: {_why(exc)}"
                log.warning("%s", fallback)
    compute_type = compute_type_for(compute_setting, "cpu", set())
    model = WhisperModel(
        folder, device="cpu", compute_type=compute_type, cpu_threads=threads
    )
    return model, Placement("cpu", compute_type, fallback)
