"""Where a model runs, with the GPU side injected at its boundaries (the driver's files
under /proc and /dev, torch's CUDA queries): a dtype the card computes natively, WSL2's
driver recognised, and a driver torch cannot use said in words, not left to a slow CPU."""

from __future__ import annotations

import pytest
import torch

from core.config import ModelSettings
from core.models import devices
from core.pipelines.audio_lm.pipeline import AudioLMPipeline

OPEN_MODULE = (
    "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  "
    "(dvs-builder@U16-I3-B03-4-3)  Thu Jan  9 17:00:00 UTC 2025\n"
    "GCC version:  gcc version 12.3.0\n"
)
PROPRIETARY = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12\n"


@pytest.fixture
def driver(tmp_path, monkeypatch):
    """An NVIDIA kernel module that says ``text`` in /proc/driver/nvidia/version."""

    def install(text: str | None, wsl: tuple[str, ...] = ()) -> None:
        """``wsl``: which of WSL2's traces are there (its bridge, NVIDIA's libcuda)."""
        traces = []
        if text is not None:
            version = tmp_path / "version"
            version.write_text(text)
            traces.append(str(version))
            monkeypatch.setattr(devices, "_DRIVER_VERSION", str(version))
        monkeypatch.setattr(devices, "_NVIDIA_DRIVER", tuple(traces))
        for name in ("dxg", "libcuda.so.1"):
            (tmp_path / name).unlink(missing_ok=True)
            if name in wsl:
                (tmp_path / name).touch()
        bridge = (str(tmp_path / "dxg"), str(tmp_path / "libcuda.so.1"))
        monkeypatch.setattr(devices, "_WSL_NVIDIA", bridge)

    return install


def test_no_driver_no_note(driver):
    driver(None)
    assert not devices.nvidia_driver_present()
    assert devices.unusable_gpu() is None
    assert devices.recognizer_target("auto") == "cpu"


def test_the_driver_version_is_read_from_either_module(driver):
    driver(OPEN_MODULE)
    assert devices.driver_version() == "570.86.15"
    driver(PROPRIETARY)
    assert devices.driver_version() == "535.183.01"


def test_wsl2_counts_as_a_driver_only_with_nvidias_library(driver):
    driver(None, wsl=("dxg", "libcuda.so.1"))
    assert devices.nvidia_driver_present()
    assert devices.driver_version() is None
    driver(None, wsl=("dxg",))  # WSL2 on an Intel or AMD GPU: a bridge, no NVIDIA
    assert not devices.nvidia_driver_present()


def test_whisper_may_try_the_gpu_whatever_torch_says(driver):
    driver(
        OPEN_MODULE
    )  # a driver torch's CUDA 13 may refuse, CTranslate2's CUDA 12 not
    assert devices.recognizer_target("auto") == "auto"
    assert devices.recognizer_target("cuda:1") == "cuda:1"
    assert devices.recognizer_target("cpu") == "cpu"
    driver(None)
    assert devices.recognizer_target("auto") == "cpu"


def test_a_driver_too_old_for_torchs_cuda_is_said(driver, monkeypatch):
    driver(OPEN_MODULE)
    monkeypatch.setattr(torch.version, "cuda", "13.0")  # the CUDA build PyPI ships
    note = devices.unusable_gpu()
    assert "driver 570.86.15" in note and "CUDA 13.0 needs driver 580" in note
    assert "runs on the CPU" in note and "Update the NVIDIA driver" in note


def test_a_cpu_build_of_torch_beside_a_gpu_is_said(driver):
    driver(PROPRIETARY)
    assert torch.version.cuda is None  # this machine's torch
    assert "CPU build" in devices.unusable_gpu()


@pytest.mark.parametrize(
    "capability, expected",
    [((8, 6), "bfloat16"), ((9, 0), "bfloat16"), ((7, 5), "float16")],
)
def test_bfloat16_only_where_the_card_computes_it(monkeypatch, capability, expected):
    """Ampere (8.x) and newer compute bfloat16; a Turing card (7.5) would emulate it."""
    asked = []

    def device_capability(device=None):
        asked.append(device)
        return capability

    monkeypatch.setattr(torch.cuda, "get_device_capability", device_capability)
    dtype = devices.resolve_dtype("auto", torch.device("cuda:1"))
    assert dtype == getattr(torch, expected)
    assert asked == [torch.device("cuda:1")]  # the configured GPU, not the first
    assert devices.resolve_dtype("auto", torch.device("cpu")) == torch.float32


def test_an_audio_model_on_the_cpu_beside_an_unusable_gpu_says_so(
    tiny_models, driver, monkeypatch
):
    driver(OPEN_MODULE)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    pipeline = AudioLMPipeline.load(
        ModelSettings(device="auto"), str(tiny_models["voxtral"]), "auto"
    )
    assert pipeline.device.type == "cpu"
    assert "CUDA 13.0 needs driver 580" in pipeline.notice
    quiet = AudioLMPipeline.load(
        ModelSettings(device="cpu"), str(tiny_models["voxtral"]), "auto"
    )
    assert quiet.notice is None  # the CPU was asked for
