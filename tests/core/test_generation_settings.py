"""Every generation setting of config.yaml reaches ``generate`` with its configured value and
changes the answer as it should. The reference is plain ``generate`` on the inputs recorded
at that boundary, with the settings spelled out here (never the engine's own helpers), from
the same seed; each case first shows that it can tell the setting from its absence. Each
setting, dropped on its way to ``generate``, is caught.

The settings run on tiny models built with ``runner_up_gap``: greedy decoding says
TINY_SENTENCE, but sampling strays as temperature and top_p allow, and a repetition penalty
on tokens already in the prompt hands the first step to the runner-up.
"""

from __future__ import annotations

import asyncio

import pytest
import torch

from core import StreamingEngine
from testkit.model_calls import recorded_generate, reference_generate
from testkit.tiny_model import TINY_SENTENCE, build
from tests.conftest import ARCHS, make_config, make_engine, speech_like

SEED = 0
BASE = {"max_new_tokens": 40}  # room to stray: the sentence is 13-18 tokens
# setting: (generation settings that show it, whether the answer is then the sentence)
CASES = {
    "max_new_tokens": ({"max_new_tokens": 3}, False),
    "do_sample": ({"do_sample": True, "temperature": 1.0, "top_p": 1.0}, False),
    "temperature": ({"do_sample": True, "temperature": 0.05, "top_p": 1.0}, True),
    "top_p": ({"do_sample": True, "temperature": 1.0, "top_p": 0.5}, True),
    "repetition_penalty": ({"repetition_penalty": 1.5}, False),
}


@pytest.fixture(scope="module")
def soft_engines(tmp_path_factory):
    """Per architecture: a loaded engine on a runner_up_gap model, and the model's folder."""
    root = tmp_path_factory.mktemp("soft")
    loaded = {}
    for arch in ARCHS:
        folder = build(root / arch, arch, runner_up_gap=1.0)
        loaded[arch] = (asyncio.run(make_engine(folder)), folder)
    yield loaded
    for engine, _ in loaded.values():
        asyncio.run(engine.close())


def words(text: str) -> str:
    return " ".join(text.split())


async def check_setting(soft_engines, arch: str, name: str) -> None:
    loaded, folder = soft_engines[arch]
    settings, says_the_sentence = CASES[name]
    configured = {**BASE, **settings}
    config = make_config(
        folder,
        chunked_response={"generation": configured},
        # Every reply token is then already in the prompt: the repetition penalty bites.
        prompts={"conversation": TINY_SENTENCE},
    )
    engine = StreamingEngine.from_pipeline(config, loaded.pipeline)
    model, tokenizer = loaded.pipeline.model, loaded.pipeline.tokenizer
    try:
        with recorded_generate(model) as calls:
            torch.manual_seed(SEED)
            result = await engine.process_realtime_chunk(speech_like(), 1)
    finally:
        await engine.close()
    assert result["success"], result
    (call,) = calls

    expected = await reference_generate(model, call, configured, SEED)
    without = {k: v for k, v in configured.items() if k != name}
    assert expected != await reference_generate(model, call, without, SEED), (
        f"this case cannot tell {name} from its absence"
    )
    assert call.new_tokens == expected, (
        f"the answer is not what generate gives with {name}={configured[name]}"
    )
    assert words(result["text"]) == words(
        tokenizer.decode(expected, skip_special_tokens=True)
    )
    assert (result["text"] == TINY_SENTENCE) is says_the_sentence
    assert call.settings[name] == configured[name]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("arch_name", ARCHS)
async def test_each_setting_reaches_generate_and_has_its_effect(
    soft_engines, arch_name, name
):
    await check_setting(soft_engines, arch_name, name)


@pytest.mark.parametrize("name", CASES)
async def test_a_dropped_setting_is_caught(soft_engines, monkeypatch, name):
    original = StreamingEngine._generate_kwargs

    def dropping(self, generator):
        return {k: v for k, v in original(self, generator).items() if k != name}

    monkeypatch.setattr(StreamingEngine, "_generate_kwargs", dropping)
    with pytest.raises(AssertionError, match="not what generate gives"):
        await check_setting(soft_engines, "qwen2-audio", name)


@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("limit", [1, 3, 7])
async def test_max_new_tokens_cuts_the_sentence_at_that_many_tokens(
    tiny_models, arch_name, limit
):
    engine = await make_engine(
        tiny_models[arch_name],
        chunked_response={"generation": {"max_new_tokens": limit}},
    )
    tokenizer = engine.pipeline.tokenizer
    sentence = tokenizer.encode(TINY_SENTENCE, add_special_tokens=False)
    result = await engine.process_realtime_chunk(speech_like(), 1)
    await engine.close()
    assert result["generated_tokens"] == limit
    assert words(result["text"]) == words(tokenizer.decode(sentence[:limit]))
