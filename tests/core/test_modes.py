"""Transcribe and conversation are different requests: by the inputs that reach ``generate``
(Voxtral's transcription request and its [TRANSCRIBE] token, or Qwen2-Audio's transcribe
prompt, against the conversation prompt), and by the answer of a tiny model that says
another sentence when it is asked to transcribe. Each mix-up, injected, is caught."""

from __future__ import annotations

import asyncio

import pytest

from core.config import PromptSettings
from core.pipelines.audio_lm.families.voxtral import VoxtralBackend
from core.pipelines.audio_lm.pipeline import AudioLMPipeline
from testkit.model_calls import recorded_generate
from testkit.tiny_model import TINY_SENTENCE, TINY_TRANSCRIPT, TRANSCRIBE_MARKERS, build
from tests.conftest import ARCHS, make_engine, speech_like

PROMPTS = PromptSettings()  # the engines below run on the defaults
MODES = ("conversation", "transcribe")
ANSWERS = {"conversation": TINY_SENTENCE, "transcribe": TINY_TRANSCRIPT}


@pytest.fixture(scope="module")
def keyed_engines(tmp_path_factory):
    """Engines on tiny models that answer TINY_TRANSCRIPT to a transcription request."""
    root = tmp_path_factory.mktemp("keyed")
    engines = {}
    for arch in ARCHS:
        folder = build(root / arch, arch, transcript=TINY_TRANSCRIPT)
        for handoff in ("memory", "file"):
            engines[arch, handoff] = asyncio.run(
                make_engine(folder, audio={"handoff": handoff})
            )
    yield engines
    for engine in engines.values():
        asyncio.run(engine.close())


async def ask(engine, mode: str) -> tuple[str, str]:
    """The prompt ``generate`` received (special tokens spelled out) and the answer."""
    with recorded_generate(engine.pipeline.model) as calls:
        result = await engine.process_realtime_chunk(speech_like(), 1, mode)
    assert result["success"], result
    (call,) = calls
    prompt = engine.pipeline.tokenizer.decode(
        call.inputs["input_ids"][0], skip_special_tokens=False
    )
    return prompt, result["text"]


def assert_request(arch: str, mode: str, prompt: str) -> None:
    """Voxtral transcribes through its dedicated request, which carries no text prompt;
    Qwen2-Audio through the transcribe prompt. Conversation sends the conversation prompt."""
    marker = "[TRANSCRIBE]"
    if mode == "conversation":
        assert PROMPTS.conversation in prompt, "the conversation prompt is missing"
        assert PROMPTS.transcribe not in prompt, (
            "a conversation got the transcribe prompt"
        )
        assert marker not in prompt, (
            "a conversation was sent as a transcription request"
        )
    elif arch == "voxtral":
        assert prompt.rstrip().endswith(marker), "not Voxtral's transcription request"
        assert PROMPTS.conversation not in prompt, "a transcription got the chat prompt"
        assert PROMPTS.transcribe not in prompt, "a transcription went through chat"
    else:
        assert PROMPTS.transcribe in prompt, "the transcribe prompt is missing"
        assert PROMPTS.conversation not in prompt, "a transcription got the chat prompt"


def assert_answer(mode: str, answer: str) -> None:
    assert answer == ANSWERS[mode], (
        f"the {mode} answer came from the other mode's request"
    )


@pytest.mark.parametrize("handoff", ["memory", "file"])
@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("mode", MODES)
async def test_each_mode_sends_its_own_request_and_gets_its_answer(
    keyed_engines, arch_name, handoff, mode
):
    prompt, answer = await ask(keyed_engines[arch_name, handoff], mode)
    assert_request(arch_name, mode, prompt)
    assert_answer(mode, answer)


def test_the_transcription_markers_fit_the_default_prompts():
    """What the keyed models answer TINY_TRANSCRIPT to is in the transcription request only."""
    assert (
        TRANSCRIBE_MARKERS["voxtral"] not in PROMPTS.transcribe + PROMPTS.conversation
    )
    assert TRANSCRIBE_MARKERS["qwen2-audio"] in PROMPTS.transcribe
    assert TRANSCRIBE_MARKERS["qwen2-audio"] not in PROMPTS.conversation


# -- each mix-up, injected, is caught -----------------------------------------------------------


def _prepare_with(*, mode: str | None = None, prompt: str | None = None):
    """A pipeline whose ``prepare`` is handed another mode or prompt than the engine's."""
    original = AudioLMPipeline.prepare

    def faulty(self, samples, real_mode, real_prompt, history, heard=None):
        return original(
            self, samples, mode or real_mode, prompt or real_prompt, history, heard
        )

    return AudioLMPipeline, "prepare", faulty


FAULTS = {
    # fault: (what is patched, the mode it breaks, the archs whose answer shows it)
    "voxtral transcribes through the chat template": (
        (VoxtralBackend, "transcribe_inputs", lambda *args: None),
        "transcribe",
        ("voxtral",),
    ),
    "the mode is ignored": (
        _prepare_with(mode="conversation", prompt=PROMPTS.conversation),
        "transcribe",
        ARCHS,
    ),
    "the transcribe prompt is sent for a conversation": (
        _prepare_with(prompt=PROMPTS.transcribe),
        "conversation",
        # Voxtral's model keys on [TRANSCRIBE], which no text prompt can produce.
        ("qwen2-audio",),
    ),
}
APPLICABLE = [
    (fault, arch)
    for fault in FAULTS
    for arch in ARCHS
    if arch == "voxtral" or "voxtral" not in fault
]


@pytest.mark.parametrize("fault, arch_name", APPLICABLE)
async def test_an_injected_mode_fault_is_caught(
    keyed_engines, monkeypatch, fault, arch_name
):
    (target, name, replacement), mode, answer_shows = FAULTS[fault]
    monkeypatch.setattr(target, name, replacement)
    prompt, answer = await ask(keyed_engines[arch_name, "memory"], mode)
    with pytest.raises(AssertionError):
        assert_request(arch_name, mode, prompt)
    if arch_name in answer_shows:
        with pytest.raises(AssertionError, match="other mode"):
            assert_answer(mode, answer)
