"""Audio maths: turn whatever a caller hands us into mono float32 at the model's rate, and
decide by energy whether it holds speech."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import soxr

from core.errors import EngineError, ErrorCode

_MIN_RATE, _MAX_RATE = 1_000, 768_000
_MAX_CHANNELS = 32
_SILENCE_FLOOR_DBFS = -120.0


def _invalid(detail: str) -> EngineError:
    return EngineError(ErrorCode.INVALID_AUDIO, detail)


def _as_numpy(audio: object) -> np.ndarray:
    # A caller holding a tensor has imported torch; importing it here would add seconds to a
    # start-up that never needs it.
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(audio, torch.Tensor):
        if audio.is_complex():
            raise _invalid(f"complex tensors are not audio (got dtype {audio.dtype})")
        if not audio.is_floating_point():
            # Integer PCM: keep its type so it is scaled by the type's range below.
            return audio.detach().cpu().numpy()
        return audio.detach().to(device="cpu", dtype=torch.float32).numpy()
    if isinstance(audio, np.ndarray):
        return audio
    raise _invalid(
        f"expected a numpy.ndarray or torch.Tensor of samples, got {type(audio).__name__}"
    )


def _to_float32(samples: np.ndarray) -> np.ndarray:
    kind = samples.dtype.kind
    if kind == "f":
        return samples.astype(np.float32, copy=False)
    if kind == "i":
        scale = float(np.iinfo(samples.dtype).max) + 1.0
        return (samples.astype(np.float64) / scale).astype(np.float32)
    if kind == "u":
        info = np.iinfo(samples.dtype)
        mid = (float(info.max) + 1.0) / 2.0
        return ((samples.astype(np.float64) - mid) / mid).astype(np.float32)
    raise _invalid(
        f"unsupported sample type {samples.dtype}; accepted: float16/32/64, bfloat16, "
        "or integer PCM (int8/16/32/64, uint8/16/32)"
    )


def _mix_down(samples: np.ndarray) -> np.ndarray:
    # Drop leading/trailing size-1 axes (a batch of one, a single channel) before judging layout.
    squeezed = samples.reshape([n for n in samples.shape if n != 1] or [samples.size])
    if squeezed.ndim == 1:
        return squeezed
    if squeezed.ndim != 2:
        raise _invalid(
            f"audio must be 1-D (mono) or 2-D (channels x samples, either layout); got shape {samples.shape}"
        )
    channels_first = squeezed.shape[0] < squeezed.shape[1]
    channels = min(squeezed.shape)
    if channels > _MAX_CHANNELS:
        raise _invalid(
            f"2-D audio of shape {samples.shape} has {channels} channels; at most {_MAX_CHANNELS} are accepted"
        )
    return squeezed.mean(axis=0 if channels_first else 1)


def to_mono_float32(audio: object) -> np.ndarray:
    """Mono float32 samples in [-1, 1] scale from a tensor or array of any accepted dtype/layout."""
    samples = _as_numpy(audio)
    if samples.size == 0:
        raise _invalid("the recording is empty (0 samples)")
    mono = _mix_down(_to_float32(samples))
    bad = int(np.count_nonzero(~np.isfinite(mono)))
    if bad:
        raise _invalid(f"the recording contains {bad} NaN or infinite sample(s)")
    return np.ascontiguousarray(mono, dtype=np.float32)


def check_sample_rate(sample_rate: object) -> int:
    if isinstance(sample_rate, bool) or not isinstance(
        sample_rate, (int, np.integer, float)
    ):
        raise _invalid(f"sample_rate must be a number of Hz, got {sample_rate!r}")
    if (
        float(sample_rate) != int(sample_rate)
        or not _MIN_RATE <= int(sample_rate) <= _MAX_RATE
    ):
        raise _invalid(
            f"sample_rate {sample_rate!r} is not supported; use a whole number of Hz "
            f"between {_MIN_RATE} and {_MAX_RATE}"
        )
    return int(sample_rate)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (libsoxr, high quality)."""
    if from_rate == to_rate:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ").astype(
        np.float32, copy=False
    )


def frame_levels_dbfs(
    samples: np.ndarray, sample_rate: int, frame_s: float = 0.02
) -> np.ndarray:
    """RMS level of each frame in dBFS, DC removed per frame (a DC offset is not sound)."""
    frame = max(1, round(sample_rate * frame_s))
    count = max(1, len(samples) // frame)
    frames = (
        samples[: count * frame].reshape(count, -1)
        if len(samples) >= frame
        else samples[None, :]
    )
    centred = frames - frames.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(np.square(centred, dtype=np.float64), axis=1))
    with np.errstate(divide="ignore"):
        levels = 20.0 * np.log10(rms)
    return np.maximum(levels, _SILENCE_FLOOR_DBFS)


def rms_dbfs(samples: np.ndarray) -> float:
    """Level of a whole block in dBFS (full-scale sine ≈ -3 dBFS); -120 for digital silence."""
    if samples.size == 0:
        return _SILENCE_FLOOR_DBFS
    centred = samples - samples.mean()
    rms = float(np.sqrt(np.mean(np.square(centred, dtype=np.float64))))
    return (
        max(20.0 * np.log10(rms), _SILENCE_FLOOR_DBFS)
        if rms > 0
        else _SILENCE_FLOOR_DBFS
    )


def with_peak_at(
    samples: np.ndarray, peak_dbfs: float, target_dbfs: float, max_gain_db: float = 40.0
) -> np.ndarray:
    """``samples`` amplified so a frame at ``peak_dbfs`` comes to ``target_dbfs`` (at most
    ``max_gain_db``; never quieter), kept within full scale."""
    gain_db = min(max(target_dbfs - peak_dbfs, 0.0), max_gain_db)
    louder = samples * np.float32(10 ** (gain_db / 20))
    return np.clip(louder, -1.0, 1.0).astype(np.float32, copy=False)


@dataclass(frozen=True)
class SpeechEstimate:
    speech_s: float
    peak_dbfs: float

    def has_speech(self, min_speech_s: float) -> bool:
        return self.speech_s >= min_speech_s


def estimate_speech(
    samples: np.ndarray, sample_rate: int, threshold_dbfs: float, frame_s: float = 0.02
) -> SpeechEstimate:
    """How many seconds of the clip are louder than the threshold, and the loudest frame."""
    levels = frame_levels_dbfs(samples, sample_rate, frame_s)
    frame_len = min(len(samples) / sample_rate, frame_s)
    return SpeechEstimate(
        speech_s=float(np.count_nonzero(levels > threshold_dbfs)) * frame_len,
        peak_dbfs=float(levels.max()),
    )


def prepare_clip(
    audio: object,
    sample_rate: object,
    target_rate: int,
    min_clip_s: float,
    max_clip_s: float,
) -> np.ndarray:
    """Validate, mix down and resample a caller's clip; raise ``invalid_audio`` with the reason."""
    rate = check_sample_rate(sample_rate)
    mono = to_mono_float32(audio)
    duration = len(mono) / rate
    if duration < min_clip_s:
        raise _invalid(
            f"the recording is too short ({duration * 1000:.0f} ms); at least {min_clip_s:g} s is needed"
        )
    if duration > max_clip_s:
        raise _invalid(
            f"the recording is too long ({duration:.1f} s); the limit is {max_clip_s:g} s (audio.max_clip_s)"
        )
    return resample(mono, rate, target_rate)
