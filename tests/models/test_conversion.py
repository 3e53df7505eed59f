"""The GGUF to transformers conversion (``embedded.chat_runtime: transformers``) on the real
packaged SmolLM2 GGUF: every tensor comes from the file or the conversion is refused, and
the converted bfloat16 model computes what llama.cpp computes from the same file."""

from __future__ import annotations

import os
import tempfile
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


def llama_cpp_logprobs(gguf_file, prompts: list[list[int]]) -> list[dict[int, float]]:
    """llama.cpp's own next-token log-probabilities (its top 10) after each token prompt,
    from the xllamacpp wheel the app runs the GGUF with."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(gguf_file)
    params.n_ctx = 256
    params.n_gpu_layers = 0
    params.verbosity = -1
    params.warmup = False
    with tempfile.TemporaryDirectory() as folder:
        params.hostnames = [os.path.join(folder, "llama.sock")]
        server = xllamacpp.Server(params)
        found = []
        for ids in prompts:
            request = {"prompt": ids, "n_predict": 1, "n_probs": 10}
            request |= {"temperature": 0, "post_sampling_probs": False}
            reply = server.handle_completions(request)
            top = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            found.append({t["id"]: t["logprob"] for t in top})
        del server
    return found


def test_the_packaged_gguf_converts_whole_and_computes_what_llama_cpp_computes(
    packaged_gguf, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "converted"
    out.mkdir()
    convert_folder(packaged_gguf, out, "smollm2-135m-instruct")
    converted = AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16).eval()
    assert converted.dtype == torch.bfloat16
    tokenizer = AutoTokenizer.from_pretrained(out)
    prompts = [tokenizer(prompt).input_ids for prompt in PROMPTS]
    for prompt, ids, theirs in zip(
        PROMPTS, prompts, llama_cpp_logprobs(packaged_gguf, prompts), strict=True
    ):
        with torch.inference_mode():
            logits = converted(torch.tensor([ids])).logits[0, -1].float()
        ours = torch.log_softmax(logits, dim=-1)
        # llama.cpp quantises activations, ours rounds to bfloat16: about 0.2 nats apart
        gaps = {t: abs(float(ours[t]) - lp) for t, lp in theirs.items()}
        assert max(gaps.values()) < 0.5, (prompt, gaps)
        ranked = sorted(theirs, key=theirs.get, reverse=True)
        assert int(ours.argmax()) in ranked[:2], (prompt, ranked[:2])
