"""The GGUF to transformers conversion (``embedded.chat_runtime: transformers``) on the real
packaged SmolLM2 GGUF: every tensor comes from the file or the conversion is refused, and
the converted bfloat16 model computes what the GGUF's own weights compute."""

from __future__ import annotations

from types import SimpleNamespace

import gguf
import pytest
import torch
from gguf.scripts.gguf_new_metadata import copy_with_new_metadata

from core.models.packaged import (
    SMOLLM2_135M,
    AssetError,
    assemble,
    convert_folder,
    default_cache_dir,
)

DROPPED = (
    "blk.0.attn_q.weight"  # model.layers.0.self_attn.q_proj.weight in transformers
)
PROMPTS = ["The capital of France is", "One, two, three,", "def add(a, b):"]


@pytest.fixture(scope="module")
def packaged_gguf():
    return assemble(SMOLLM2_135M, default_cache_dir()) / SMOLLM2_135M.filename


def without_a_tensor(source, target, name: str) -> None:
    """A copy of the GGUF file ``source`` lacking tensor ``name``, written by gguf's own
    copier."""
    reader = gguf.GGUFReader(source)

    lacking = SimpleNamespace(
        fields=reader.fields,
        endianess=reader.endianess,
        tensors=[t for t in reader.tensors if t.name != name],
    )
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(target, arch=arch, endianess=reader.endianess)
    copy_with_new_metadata(lacking, writer, {}, [])
    writer.close()


def test_a_gguf_lacking_a_tensor_is_refused(packaged_gguf, tmp_path):
    broken = tmp_path / "broken" / "model.gguf"
    broken.parent.mkdir()
    without_a_tensor(packaged_gguf, broken, DROPPED)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssetError) as info:
        convert_folder(broken, out, "smollm2-135m-instruct")
    assert "model.layers.0.self_attn.q_proj.weight" in str(info.value)
    assert "random weights" in str(info.value)
    assert list(out.iterdir()) == []  # nothing half-written


def test_the_packaged_gguf_converts_whole_and_computes_the_same(
    packaged_gguf, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "converted"
    out.mkdir()
    convert_folder(packaged_gguf, out, "smollm2-135m-instruct")
    converted = AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16).eval()
    assert converted.dtype == torch.bfloat16
    reference = AutoModelForCausalLM.from_pretrained(
        packaged_gguf.parent, gguf_file=packaged_gguf.name, dtype=torch.float32
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.inference_mode():
            ours = converted(ids).logits[0, -1].float()
            theirs = reference(ids).logits[0, -1]
        # bfloat16 rounding only: the same next word, and the same logits to within it
        assert ours.argmax() == theirs.argmax(), prompt
        similarity = torch.nn.functional.cosine_similarity(ours, theirs, dim=0)
        assert similarity > 0.99, (prompt, float(similarity))
