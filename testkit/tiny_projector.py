"""A tiny random-weight audio projector (mmproj GGUF) for llama.cpp, built at test time.

llama.cpp's server only accepts OpenAI ``input_audio`` content parts when it was started
with an audio projector (``mmproj``). No real one can be downloaded in tests, so this
writes one with the ``gguf`` package: the *shape* of Qwen2-Audio's audio encoder (a
Whisper-style encoder followed by one linear projection), with a couple of small layers
and random weights. Its output is meaningless, but every path through the server is the
real one: WAV decoding, 128-bin log-mel features, encoder graph, audio embeddings spliced
into the text model's prompt, prompt tokens counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Qwen2-Audio's front end (llama.cpp hard-codes the rest for this projector type:
# 16 kHz, n_fft 400, hop 160, 30 s chunks).
N_MEL_BINS = 128
# Whisper encoders have one position per two mel frames of a 30 s chunk: 3000 / 2.
# llama.cpp pads audio to 30 s chunks and asserts position_embd has at least this many rows.
N_AUDIO_POSITIONS = 1500
# Audio embeddings per clip with this projector type: llama.cpp pads every clip to whole
# 30 s windows and emits 750 embeddings per window (3000 mel frames / 4); a 0.5 s or 2 s
# clip gives 750, a 31 s one 1500. The prompt also gains the text of the <|audio_bos|> /
# <|audio_eos|> markers (15 tokens with SmolLM2's tokenizer: 35 prompt tokens became 800).
# The text model prefills all of them: seconds per window on a CPU.
AUDIO_TOKENS_PER_WINDOW = 750


def build_tiny_audio_projector(
    path: Path,
    text_embd: int = 576,
    *,
    n_embd: int = 64,
    n_head: int = 2,
    n_ff: int = 128,
    n_layer: int = 2,
    seed: int = 0,
) -> Path:
    """Write a tiny random-weight Qwen2-Audio-shaped audio projector GGUF to ``path``.

    It mimics what llama.cpp's ``convert_hf_to_gguf.py --mmproj`` writes for
    ``Qwen2AudioForConditionalGeneration`` (projector type ``qwen2a``): two conv1d layers
    over 128 mel bins, learned position embeddings for 1500 positions, ``n_layer``
    pre-norm transformer blocks (q/v/out with bias, k without, GELU MLP), a final layer
    norm, and the linear projection ``mm.a.fc`` into the text model's embedding space.

    Why: llama.cpp's OpenAI-compatible server rejects ``input_audio`` parts unless it
    runs with an audio ``mmproj``, and no real projector is available offline. This one
    lets tests drive the real audio path (the model's answer is nonsense, but the audio
    tokens are real and counted in ``usage.prompt_tokens``). Qwen2-Audio's shape is used
    because an Ultravox-shaped projector crashed the server.

    ``text_embd`` must equal the text model's ``n_embd`` (576 for SmolLM2-135M); llama.cpp
    refuses a projector whose output width differs (``xllamacpp.Server`` then raises
    RuntimeError). Deterministic for a given ``seed``; about 0.9 MB, written in
    milliseconds. With SmolLM2-135M the greedy reply to such audio is mostly newlines:
    assert that pieces stream and tokens are counted, not that words come back.
    """
    import gguf  # imported here so test collection does not need it

    if n_embd % n_head:
        raise ValueError("n_embd must be divisible by n_head")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=np.float32)

    writer = gguf.GGUFWriter(str(path), arch="clip")
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name("tiny-random-qwen2-audio-mmproj")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_clip_has_vision_encoder(False)
    writer.add_clip_has_audio_encoder(True)
    writer.add_clip_projector_type(gguf.VisionProjectorType.QWEN2A)  # "qwen2a"
    writer.add_audio_num_mel_bins(N_MEL_BINS)
    writer.add_audio_embedding_length(n_embd)
    writer.add_audio_feed_forward_length(n_ff)
    writer.add_audio_block_count(n_layer)
    writer.add_audio_head_count(n_head)
    writer.add_audio_attention_layernorm_eps(1e-5)
    writer.add_audio_projection_dim(text_embd)

    # numpy shapes are the reverse of ggml's ne[]: a (out, in) array is ne = [in, out].
    # Conv weights in F16 as the real converter writes them (tensor_force_quant);
    # conv biases get a trailing unit axis so they broadcast over time (ne = [1, n_embd]).
    writer.add_tensor(
        "a.conv1d.1.weight", rand(n_embd, N_MEL_BINS, 3).astype(np.float16)
    )
    writer.add_tensor("a.conv1d.1.bias", zeros(n_embd, 1))
    writer.add_tensor("a.conv1d.2.weight", rand(n_embd, n_embd, 3).astype(np.float16))
    writer.add_tensor("a.conv1d.2.bias", zeros(n_embd, 1))
    writer.add_tensor("a.position_embd.weight", rand(N_AUDIO_POSITIONS, n_embd))
    for i in range(n_layer):
        blk = f"a.blk.{i}"
        writer.add_tensor(f"{blk}.ln1.weight", ones(n_embd))
        writer.add_tensor(f"{blk}.ln1.bias", zeros(n_embd))
        writer.add_tensor(f"{blk}.attn_q.weight", rand(n_embd, n_embd))
        writer.add_tensor(f"{blk}.attn_q.bias", zeros(n_embd))
        writer.add_tensor(f"{blk}.attn_k.weight", rand(n_embd, n_embd))  # no k bias
        writer.add_tensor(f"{blk}.attn_v.weight", rand(n_embd, n_embd))
        writer.add_tensor(f"{blk}.attn_v.bias", zeros(n_embd))
        writer.add_tensor(f"{blk}.attn_out.weight", rand(n_embd, n_embd))
        writer.add_tensor(f"{blk}.attn_out.bias", zeros(n_embd))
        writer.add_tensor(f"{blk}.ln2.weight", ones(n_embd))
        writer.add_tensor(f"{blk}.ln2.bias", zeros(n_embd))
        writer.add_tensor(f"{blk}.ffn_up.weight", rand(n_ff, n_embd))
        writer.add_tensor(f"{blk}.ffn_up.bias", zeros(n_ff))
        writer.add_tensor(f"{blk}.ffn_down.weight", rand(n_embd, n_ff))
        writer.add_tensor(f"{blk}.ffn_down.bias", zeros(n_embd))
    writer.add_tensor("a.post_ln.weight", ones(n_embd))
    writer.add_tensor("a.post_ln.bias", zeros(n_embd))
    writer.add_tensor("mm.a.fc.weight", rand(text_embd, n_embd))
    writer.add_tensor("mm.a.fc.bias", zeros(text_embd))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
