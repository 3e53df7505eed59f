"""Build tiny, deterministic audio-language models offline.

``python -m testkit.tiny_model OUT_DIR --arch voxtral|qwen2-audio`` writes a model folder
(config, safetensors weights, processor, tokenizer) that loads through the same
``from_pretrained`` path as a real checkpoint. Greedy decoding always answers with
:data:`TINY_SENTENCE`, whatever the audio, so tests can assert exact streamed text through
the real model, processor, streamer and generation thread.

How the weights force one sentence: every text layer's attention output and MLP down
projection are zeroed, so the residual stream holds only the current token's embedding.
Sentence tokens get orthogonal embeddings and the LM head maps token *k*'s direction to
token *k+1* (and the last one to EOS); every other token shares one "start" direction that
the head maps to the first sentence token.

Two options make the answer depend on what the model is given, for tests that must see it:

- ``transcript``: a second sentence, answered whenever the prompt holds the family's
  transcription marker (:data:`TRANSCRIBE_MARKERS`). One attention head of the first layer
  looks for the marker anywhere in the prompt and, when found, adds a "mode" direction that
  the LM head turns into the transcript's first token.
- ``runner_up_gap``: softer forcing, so sampling settings show: each reply token's logit is
  12 and :data:`RUNNER_UP`'s is 12 minus the gap. Greedy decoding still says the sentence;
  sampling strays from it as far as temperature and top_p let it.

``--size bench`` builds a ~100M-parameter random model of the same architecture instead,
for benchmarks where a decoding step must cost what it does in real use (Voxtral gets a 32k
vocabulary; Qwen2-Audio keeps its small trained one, so its LM head is cheap).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

TINY_SENTENCE = "Hello from the tiny test model, streaming every word in order."
#: what a ``transcript`` model says to a transcription request (its tokens are distinct
#: from each other and from TINY_SENTENCE's in both tokenizers)
TINY_TRANSCRIPT = "The quick brown fox jumps over a lazy dog"
#: the token a ``runner_up_gap`` model can stray to (one token in both tokenizers)
RUNNER_UP = " capital"
ARCHITECTURES = ("voxtral", "qwen2-audio")
#: what tells a transcription request apart, per family: Voxtral's dedicated request ends
#: with a control token; Qwen2-Audio transcribes through an ordinary prompt, so its marker
#: is the word of the default transcribe prompt (config.yaml) that the conversation one lacks
TRANSCRIBE_MARKERS = {"voxtral": "[TRANSCRIBE]", "qwen2-audio": " verbatim"}

# Qwen2-Audio's chat tokens; the processor's default template relies on these names.
_QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|audio_bos|>",
    "<|AUDIO|>",
    "<|audio_eos|>",
]
_QWEN_CORPUS = [
    TINY_SENTENCE,
    "system\nYou are a helpful assistant.",
    "user\nAudio 1: Answer the question in the audio. Transcribe the audio verbatim.",
    "assistant\nThe quick brown fox jumps over the lazy dog. What is the capital of France?",
]

# Voxtral's tekken special tokens by rank; the processor hard-codes [AUDIO] at 24.
_VOXTRAL_SPECIALS = {
    0: "<unk>",
    1: "<s>",
    2: "</s>",
    3: "[INST]",
    4: "[/INST]",
    5: "[AVAILABLE_TOOLS]",
    6: "[/AVAILABLE_TOOLS]",
    7: "[TOOL_RESULTS]",
    8: "[/TOOL_RESULTS]",
    9: "[TOOL_CALLS]",
    10: "[IMG]",
    11: "<pad>",
    12: "[IMG_BREAK]",
    13: "[IMG_END]",
    14: "[PREFIX]",
    15: "[MIDDLE]",
    16: "[SUFFIX]",
    17: "[SYSTEM_PROMPT]",
    18: "[/SYSTEM_PROMPT]",
    19: "[TOOL_CONTENT]",
    24: "[AUDIO]",
    25: "[BEGIN_AUDIO]",
    32: "[ARGS]",
    33: "[CALL_ID]",
    34: "[TRANSCRIBE]",
}
VOXTRAL_NUM_SPECIAL = 100
_VOXTRAL_NUM_VOCAB = 8000

TINY_TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
}
_BENCH_TEXT = {
    "hidden_size": 768,
    "intermediate_size": 2048,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "num_key_value_heads": 4,
    "head_dim": 64,
}


def _feature_extractor():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=128, sampling_rate=16000)


def _qwen_tokenizer():
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        trainers,
    )
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=_QWEN_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_QWEN_CORPUS * 50, trainer=trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [
        tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]
    ]
    tokenizer = Qwen2Tokenizer(
        vocab=state["vocab"], merges=merges, eos_token="<|im_end|>"
    )
    tokenizer.add_tokens(
        [AddedToken(t, special=True, normalized=False) for t in _QWEN_SPECIALS]
    )
    return tokenizer


def _qwen_processor():
    from transformers import Qwen2AudioProcessor

    return Qwen2AudioProcessor(
        feature_extractor=_feature_extractor(), tokenizer=_qwen_tokenizer()
    )


def _tekken_file(out_dir: Path, num_vocab: int) -> Path:
    import mistral_common

    source = Path(mistral_common.__file__).parent / "data" / "tekken_240911.json"
    data = json.loads(source.read_text())
    specials = [
        {
            "rank": r,
            "token_str": _VOXTRAL_SPECIALS.get(r, f"<SPECIAL_{r}>"),
            "is_control": True,
        }
        for r in range(VOXTRAL_NUM_SPECIAL)
    ]
    data["vocab"] = data["vocab"][:num_vocab]
    data["special_tokens"] = specials
    data["config"].update(
        version="v7",
        num_vocab_tokens=num_vocab,
        default_vocab_size=num_vocab + VOXTRAL_NUM_SPECIAL,
        default_num_special_tokens=VOXTRAL_NUM_SPECIAL,
    )
    data["audio"] = {
        "sampling_rate": 16000,
        "frame_rate": 12.5,
        "chunk_length_s": 30.0,
        "audio_encoding_config": {
            "num_mel_bins": 128,
            "hop_length": 160,
            "window_size": 400,
        },
    }
    data.pop("image", None)
    path = out_dir / "tekken.json"
    path.write_text(json.dumps(data))
    return path


def voxtral_processor(work_dir: Path, num_vocab: int):
    """A Voxtral processor whose tekken tokenizer keeps ``num_vocab`` ordinary tokens."""
    from transformers import MistralCommonBackend, VoxtralProcessor

    tokenizer = MistralCommonBackend(
        tokenizer_path=str(_tekken_file(work_dir, num_vocab))
    )
    return VoxtralProcessor(feature_extractor=_feature_extractor(), tokenizer=tokenizer)


def _model(arch: str, vocab_size: int, audio_token_id: int, text: dict):
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        VoxtralConfig,
        VoxtralForConditionalGeneration,
    )

    text_config = dict(
        text,
        vocab_size=vocab_size,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )
    audio = {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_mel_bins": 128,
        "max_source_positions": 1500,
    }
    torch.manual_seed(0)
    if arch == "voxtral":
        config = VoxtralConfig(
            audio_config=dict(
                audio, intermediate_size=128
            ),  # projector stacks 4 frames
            text_config=text_config,
            audio_token_id=audio_token_id,
        )
        config.tie_word_embeddings = False
        return VoxtralForConditionalGeneration(config)
    config = Qwen2AudioConfig(
        audio_config={
            "d_model": audio["hidden_size"],
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 64,
            "num_mel_bins": 128,
            "max_source_positions": 1500,
        },
        text_config=dict(text_config, model_type="qwen2"),
        audio_token_index=audio_token_id,
    )
    config.tie_word_embeddings = False
    return Qwen2AudioForConditionalGeneration(config)


# LM head weight per direction: reply logits of 400 after the final norm.
_REPLY_SCALE = 50.0
# A runner_up_gap model's reply logit.
_SOFT_LOGIT = 12.0
# Head weight of the "mode" direction on the transcript's first token.
_MODE_BONUS = 10.0


@torch.no_grad()
def force_sentence(
    model,
    sentence_ids: list[int],
    eos_id: int,
    *,
    keyed: tuple[int, list[int]] | None = None,
    runner_up: tuple[int, float] | None = None,
) -> None:
    """Set weights so greedy decoding emits ``sentence_ids`` then ``eos_id`` after any prompt.

    ``keyed=(marker_id, other_ids)``: emit ``other_ids`` instead when ``marker_id`` is anywhere
    in the prompt. ``runner_up=(token_id, gap)``: reply logits of 12 and ``token_id`` at
    ``12 - gap`` after every reply step, so that sampling can stray.
    """
    if keyed is not None and runner_up is not None:
        raise ValueError("keyed and runner_up are separate tiny models; choose one")
    chains = [list(sentence_ids)] + ([list(keyed[1])] if keyed else [])
    replies = [t for chain in chains for t in chain]
    if len(set(replies)) != len(replies):
        raise ValueError(f"sentence tokens must be distinct, got {chains}")
    others = {
        t for t in (keyed and keyed[0], runner_up and runner_up[0]) if t is not None
    }
    if others & {*replies, eos_id}:
        raise ValueError("the marker and runner-up must not be reply tokens")
    for name, module in model.named_modules():
        if "language_model" in name and name.endswith(
            ("self_attn.o_proj", "mlp.down_proj")
        ):
            module.weight.zero_()
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    hidden = embed.shape[1]
    if len(replies) + 3 > hidden:
        raise ValueError("sentence longer than the hidden size allows")
    basis = torch.eye(hidden, dtype=embed.dtype)
    embed.copy_(basis[0].expand_as(embed))  # every token: the "start" direction
    head.zero_()
    # The final norm scales a lone direction by sqrt(hidden).
    scale = _REPLY_SCALE if runner_up is None else _SOFT_LOGIT / hidden**0.5
    direction = 1  # the next unused direction
    for number, chain in enumerate(chains):
        previous = 0  # direction k predicts the k-th reply token
        for token in chain:
            if number == 0 or previous != 0:  # the transcript's first: keyed below
                head[token] = basis[previous] * scale
            embed[token] = basis[direction]
            previous, direction = direction, direction + 1
        head[eos_id] += basis[previous] * scale
    if runner_up is not None:
        token, gap = runner_up
        # Every direction in use predicts a reply token, and the runner-up a gap below it.
        head[token] = basis[:direction].sum(0) * (_SOFT_LOGIT - gap) / hidden**0.5
    if keyed is not None:
        marker, mode = direction, direction + 1
        embed[keyed[0]] = basis[marker]
        _attend_to_marker(model, marker, mode)
        # Without the mode the start direction favours the sentence by one unit (400 vs 392
        # after the norm); with it (the norm then gives each direction ~5.7) the transcript
        # wins by ~50, and the bonus (~57) stays far below a chain step (~283).
        head[keyed[1][0]] = basis[0] * (scale - 1.0) + basis[mode] * _MODE_BONUS


def _attend_to_marker(model, marker: int, mode: int) -> None:
    """Head 0 of the first text layer: every position attends to the marker token wherever it
    is in the prompt and copies a unit "mode" direction into the residual stream; with no
    marker the head reads nothing. The audio projector is zeroed, so audio positions (zero
    vectors) neither look like the marker nor add to the head's output."""
    for name, module in model.named_modules():
        if name.endswith("multi_modal_projector"):
            for parameter in module.parameters():
                parameter.zero_()
    attention = next(
        m
        for n, m in model.named_modules()
        if "language_model" in n and n.endswith("layers.0.self_attn")
    )
    for projection in (attention.q_proj, attention.k_proj, attention.v_proj):
        projection.weight.zero_()
        if projection.bias is not None:
            projection.bias.zero_()
    # The slowest rotary pair: the score hardly depends on the distance to the marker.
    slow = attention.head_dim // 2 - 1
    hidden = attention.q_proj.weight.shape[1]
    attention.q_proj.weight[slow] = 1.0  # every token asks (8 after the layer norm)...
    attention.k_proj.weight[slow, marker] = 2.0  # ...only the marker answers: score ~32
    attention.v_proj.weight[0, marker] = 1.0 / hidden**0.5  # a unit value
    attention.o_proj.weight[mode, 0] = 1.0


def build(
    out_dir: str | Path,
    arch: str,
    size: str = "tiny",
    deterministic: bool = True,
    sentence: str = TINY_SENTENCE,
    transcript: str | None = None,
    runner_up_gap: float | None = None,
) -> Path:
    """Write a model folder for ``arch`` ("voxtral" or "qwen2-audio") and return its path.

    The tiny model answers every prompt with ``sentence`` (its tokens must be distinct).
    ``deterministic=False`` keeps the random weights (tiny size only): the answer is then
    arbitrary text, which tests use to check that streaming loses nothing. ``transcript``:
    answer that instead to a transcription request. ``runner_up_gap``: let sampling stray
    (see the module's docstring).
    """
    if arch not in ARCHITECTURES:
        raise ValueError(
            f"unknown arch {arch!r}; choose one of {', '.join(ARCHITECTURES)}"
        )
    if size not in ("tiny", "bench"):
        raise ValueError(f"unknown size {size!r}; choose 'tiny' or 'bench'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = TINY_TEXT if size == "tiny" else _BENCH_TEXT
    with tempfile.TemporaryDirectory() as work:
        if arch == "voxtral":
            # bench: a 32k vocabulary, so the LM head costs what it does in real use and
            # random tokens still decode to real text.
            num_vocab = _VOXTRAL_NUM_VOCAB if size == "tiny" else 32000
            processor = voxtral_processor(Path(work), num_vocab)
            tokenizer = processor.tokenizer
            vocab_size = num_vocab + VOXTRAL_NUM_SPECIAL
            audio_token_id = 24
            eos_id = tokenizer.eos_token_id
        else:
            processor = _qwen_processor()
            tokenizer = processor.tokenizer
            vocab_size = len(tokenizer)
            audio_token_id = tokenizer.convert_tokens_to_ids("<|AUDIO|>")
            eos_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
        model = _model(arch, vocab_size, audio_token_id, text)
        if size == "tiny" and deterministic:
            ids = tokenizer.encode(sentence, add_special_tokens=False)
            keyed = runner_up = None
            if transcript is not None:
                other = tokenizer.encode(transcript, add_special_tokens=False)
                keyed = (_marker_id(arch, tokenizer), list(other))
            if runner_up_gap is not None:
                runner_up = (_one_token(tokenizer, RUNNER_UP), runner_up_gap)
            force_sentence(model, list(ids), eos_id, keyed=keyed, runner_up=runner_up)
        model.generation_config.eos_token_id = eos_id
        model.generation_config.pad_token_id = eos_id
        model.save_pretrained(out)
        processor.save_pretrained(out)
    return out


def _one_token(tokenizer, text: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"{text!r} is {len(ids)} tokens in this tokenizer, not one")
    return int(ids[0])


def _marker_id(arch: str, tokenizer) -> int:
    marker = TRANSCRIBE_MARKERS[arch]
    if arch == "voxtral":  # a control token, which tekken never makes from text
        return next(rank for rank, name in _VOXTRAL_SPECIALS.items() if name == marker)
    return _one_token(tokenizer, marker)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m testkit.tiny_model", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out_dir", help="folder to write the model into")
    parser.add_argument("--arch", choices=ARCHITECTURES, default="qwen2-audio")
    parser.add_argument(
        "--size",
        choices=("tiny", "bench"),
        default="tiny",
        help="tiny: deterministic test model; bench: ~100M random weights",
    )
    parser.add_argument(
        "--random",
        action="store_true",
        help="tiny size with random weights (arbitrary answers) instead of the fixed sentence",
    )
    args = parser.parse_args(argv)
    path = build(args.out_dir, args.arch, args.size, deterministic=not args.random)
    print(f"wrote {args.arch} ({args.size}) model to {path}")


if __name__ == "__main__":
    main()
