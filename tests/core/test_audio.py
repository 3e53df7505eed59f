"""Audio conversion, resampling, levels and speech detection (core.audio)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core import audio
from core.errors import EngineError, ErrorCode

RATE = 16000


def tone(seconds=1.0, rate=RATE, freq=440.0, amp=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    "dtype, full_scale",
    [
        (np.int16, 32767),
        (np.int32, 2**31 - 1),
        (np.int8, 127),
        (np.uint8, 255),
        (np.uint16, 65535),
    ],
)
def test_integer_pcm_is_scaled_by_its_range(dtype, full_scale):
    info = np.iinfo(dtype)
    samples = np.array([info.min, info.max], dtype=dtype)
    out = audio.to_mono_float32(samples)
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(-1.0, abs=1e-6)
    assert out[1] == pytest.approx(1.0, abs=2.0 / full_scale)


def test_unsigned_midpoint_is_zero():
    assert audio.to_mono_float32(np.array([128], dtype=np.uint8))[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_arrays_keep_their_values(dtype):
    samples = tone().astype(dtype)
    np.testing.assert_allclose(
        audio.to_mono_float32(samples), samples.astype(np.float32), atol=1e-3
    )


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64]
)
def test_tensors_of_any_float_dtype(dtype):
    samples = torch.from_numpy(tone()).to(dtype)
    out = audio.to_mono_float32(samples)
    assert out.dtype == np.float32 and out.shape == (RATE,)
    np.testing.assert_allclose(out, tone(), atol=1e-2)


def test_integer_tensor_is_scaled_like_pcm():
    samples = torch.tensor([-32768, 0, 16384], dtype=torch.int16)
    np.testing.assert_allclose(audio.to_mono_float32(samples), [-1.0, 0.0, 0.5])


def test_tensor_that_needs_grad_is_accepted():
    samples = torch.from_numpy(tone()).requires_grad_(True)
    assert audio.to_mono_float32(samples).shape == (RATE,)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_stereo_is_mixed_down_in_either_layout(layout):
    left, right = tone(amp=0.2), tone(amp=0.6)
    stereo = (
        np.stack([left, right])
        if layout == "channels_first"
        else np.stack([left, right], axis=1)
    )
    np.testing.assert_allclose(
        audio.to_mono_float32(stereo), (left + right) / 2, atol=1e-6
    )


@pytest.mark.parametrize("shape", [(1, RATE), (RATE, 1), (1, 1, RATE)])
def test_singleton_axes_are_mono(shape):
    assert audio.to_mono_float32(tone().reshape(shape)).shape == (RATE,)


def test_true_3d_audio_is_rejected_with_its_shape():
    with pytest.raises(EngineError, match=r"shape \(2, 3, 16000\)") as info:
        audio.to_mono_float32(np.zeros((2, 3, RATE), np.float32))
    assert info.value.code is ErrorCode.INVALID_AUDIO


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(0, np.float32), "empty"),
        (np.array([0.1, np.nan, 0.2], np.float32), "1 NaN or infinite"),
        (np.array([np.inf, -np.inf], np.float64), "2 NaN or infinite"),
        (np.full(100, np.nan), "100 NaN"),
        ([0.1, 0.2], "got list"),
        ("clip.wav", "got str"),
        (None, "got NoneType"),
        (np.array(["a", "b"]), "unsupported sample type"),
        (np.zeros(10, np.complex64), "unsupported sample type"),
        (np.zeros(10, bool), "unsupported sample type"),
    ],
)
def test_bad_input_names_the_problem(bad, message):
    with pytest.raises(EngineError, match=message) as info:
        audio.to_mono_float32(bad)
    assert info.value.code is ErrorCode.INVALID_AUDIO


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_duration_and_pitch(rate):
    clip = tone(seconds=1.0, rate=rate, freq=440.0)
    out = audio.resample(clip, rate, RATE)
    assert len(out) == pytest.approx(RATE, abs=2)
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * RATE / len(out)
    assert peak_hz == pytest.approx(440.0, abs=2.0)


def test_same_rate_is_not_touched():
    clip = tone()
    assert audio.resample(clip, RATE, RATE) is clip


@pytest.mark.parametrize("rate", [0, -16000, 500, 10**7, 16000.5, "16000", True, None])
def test_bad_sample_rates_are_rejected(rate):
    with pytest.raises(EngineError, match="sample_rate"):
        audio.check_sample_rate(rate)


def test_dbfs_of_known_signals():
    assert audio.rms_dbfs(tone(amp=1.0)) == pytest.approx(-3.01, abs=0.05)
    assert audio.rms_dbfs(tone(amp=0.1)) == pytest.approx(-23.01, abs=0.05)
    assert audio.rms_dbfs(np.zeros(RATE, np.float32)) == -120.0
    assert (
        audio.rms_dbfs(np.full(RATE, 0.5, np.float32)) == -120.0
    )  # pure DC is silence


@pytest.mark.parametrize(
    "amp, expected",
    [
        (0.5, True),
        (0.05, True),
        (0.005, False),
        (0.0005, False),
    ],  # -9, -29, -49, -69 dBFS
)
def test_speech_gate_at_several_levels(amp, expected):
    estimate = audio.estimate_speech(tone(amp=amp), RATE, threshold_dbfs=-45.0)
    assert estimate.has_speech(0.2) is expected


def test_speech_gate_needs_enough_loud_time():
    clip = np.zeros(RATE, np.float32)
    clip[:1600] = tone(seconds=0.1)  # 100 ms burst, e.g. a key click
    estimate = audio.estimate_speech(clip, RATE, -45.0)
    assert estimate.speech_s == pytest.approx(0.1, abs=0.02)
    assert not estimate.has_speech(0.2)
    assert estimate.has_speech(0.05)


def test_dc_offset_does_not_count_as_speech():
    clip = np.full(RATE, 0.3, np.float32) + tone(amp=0.0005)
    assert not audio.estimate_speech(clip, RATE, -45.0).has_speech(0.2)


def test_prepare_clip_limits_name_the_limit():
    with pytest.raises(EngineError, match=r"too short \(50 ms\); at least 0.1 s"):
        audio.prepare_clip(tone(seconds=0.05), RATE, RATE, 0.1, 30.0)
    with pytest.raises(EngineError, match=r"too long \(31.0 s\); the limit is 30 s"):
        audio.prepare_clip(tone(seconds=31), RATE, RATE, 0.1, 30.0)


def test_prepare_clip_resamples_to_the_target_rate():
    out = audio.prepare_clip(tone(seconds=2, rate=48000), 48000, RATE, 0.1, 30.0)
    assert out.dtype == np.float32 and len(out) == pytest.approx(2 * RATE, abs=2)
