"""Measure the margins behind tests/pipelines/embedded/test_embedded.py: its spoken questions in both voices,
its memory pairs with and without memory, its transcribed sentence, and the real human
recordings, all through the engine on the embedded default.

    .venv/bin/python -m benchmarks.embedded_margins [--takes 3] [--perturb] [--json OUT]

Prints each clip's transcript and answer and the totals the tests' thresholds are set
against. ``--takes N`` adds N varied piper readings of every question and pair (the voice's
noise on, each take a little different). ``--perturb`` hears every sentence of the tests 12
ways (started 0-50 samples later, at 80% or 100% level) in both voices: a sentence heard
exactly in all 12 is far from the recogniser's decision boundary; one heard two ways is near
it, and differing CPU kernels (or even one machine from run to run) may flip it.
``--dtype float32`` sets the chat model's dtype where it runs in transformers (on a CPU
without native bfloat16 the default picks float32). To approximate an AVX2 CPU's recognition
on an AVX-512 one: ``CT2_USE_MKL=0 CT2_FORCE_CPU_ISA=AVX2 ONEDNN_MAX_CPU_ISA=AVX2``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core import StreamingEngine, load_config
from testkit import real_speech
from testkit.questions import MEMORY_PAIRS, QUESTIONS, TRANSCRIBED_SENTENCE
from testkit.voices import (
    ESPEAK,
    PIPER,
    normalise,
    normalised_word_error_rate,
    speak,
    speak_piper,
)


def _say(text: str, voice: str, take: int):
    """Take 0 is the voice as the tests use it; later piper takes are varied readings."""
    if voice == PIPER and take > 0:
        return speak_piper(text, varied=True)
    return speak(text, voice=voice)


async def _ask(engine: StreamingEngine, text: str, voice: str, take: int) -> dict:
    samples, rate = _say(text, voice, take)
    result = await engine.process_realtime_chunk(samples, "m", sample_rate=rate)
    return {"heard": result.get("heard") or "", "answer": result["text"]}


# Small changes a real recording would bring: the clip starting 0-50 samples (0-3 ms) later,
# at 80% or 100% of its level. Kernels that differ between CPUs move a borderline clip's
# transcript the same way; a sentence heard exactly in all 12 is far from the boundary.
SHIFTS = (0, 10, 20, 30, 40, 50)
GAINS = (0.8, 1.0)


async def robustness(engine: StreamingEngine, text: str, voice: str) -> dict:
    """How many of 12 slightly altered readings of the sentence are heard exactly
    (numbers and punctuation normalised), through the engine in transcribe mode."""
    samples, rate = speak(text, voice=voice)
    heard = []
    for shift in SHIFTS:
        for gain in GAINS:
            altered = np.r_[np.zeros(shift, np.float32), samples] * np.float32(gain)
            result = await engine.process_realtime_chunk(
                altered, "r", "transcribe", sample_rate=rate
            )
            heard.append(result["text"])
    exact = sum(normalise(h) == normalise(text) for h in heard)
    return {
        "text": text,
        "voice": voice,
        "exact": exact,
        "of": len(heard),
        "heard": heard,
    }


async def measure(dtype: str, takes: int, perturb: bool = False) -> dict:
    overrides = {"model": {"id": "embedded", "dtype": dtype}, "memory": {"turns": 4}}
    engine = StreamingEngine(load_config(overrides=overrides))
    await engine.initialize()
    report: dict = {"engine": engine.pipeline.description, "questions": {}}
    if perturb:
        report["robustness"] = []
        texts = [q.question for q in QUESTIONS] + [TRANSCRIBED_SENTENCE]
        for first, follow_up in MEMORY_PAIRS:
            texts += [first, follow_up.question]
        for voice in (PIPER, ESPEAK):
            for text in dict.fromkeys(texts):
                row = await robustness(engine, text, voice)
                report["robustness"].append(row)
                others = sorted(set(row["heard"]) - {text})
                print(
                    f"{voice} {row['exact']:2}/{row['of']} heard exactly: {text!r}"
                    + (f" (also {others})" if row["exact"] < row["of"] else ""),
                    flush=True,
                )
    for voice, n_takes in ((PIPER, 1 + takes), (ESPEAK, 1)):
        for take in range(n_takes):
            rows = []
            for q in QUESTIONS:
                engine.clear_history()
                row = await _ask(engine, q.question, voice, take)
                row.update(question=q.question, right=q.answered_by(row["answer"]))
                rows.append(row)
                print(
                    f"{voice} take {take}: {'ok' if row['right'] else 'NO'} "
                    f"heard {row['heard']!r}: {row['answer']!r}",
                    flush=True,
                )
            report["questions"][f"{voice} take {take}"] = {
                "right": sum(r["right"] for r in rows),
                "wer": normalised_word_error_rate(
                    [r["question"] for r in rows], [r["heard"] for r in rows]
                ),
                "rows": rows,
            }
    report["transcribe"] = []
    for voice, take in [(PIPER, t) for t in range(1 + takes)] + [(ESPEAK, 0)]:
        samples, rate = _say(TRANSCRIBED_SENTENCE, voice, take)
        result = await engine.process_realtime_chunk(
            samples, "t", "transcribe", sample_rate=rate
        )
        wer = normalised_word_error_rate([TRANSCRIBED_SENTENCE], [result["text"]])
        report["transcribe"].append(
            {"voice": voice, "take": take, "transcript": result["text"], "wer": wer}
        )
        print(f"transcribe, {voice} take {take}: {result['text']!r}", flush=True)
    report["memory"] = []
    for first, follow_up in MEMORY_PAIRS:
        for take in range(1 + takes):
            engine.clear_history()
            opening = await _ask(engine, first, PIPER, take)
            with_memory = await _ask(engine, follow_up.question, PIPER, take)
            engine.clear_history()
            without = await _ask(engine, follow_up.question, PIPER, take)
            row = {
                "first": first,
                "first_answer": opening["answer"],
                "follow_up": follow_up.question,
                "take": take,
                "heard": with_memory["heard"],
                "with_memory": with_memory["answer"],
                "without_memory": without["answer"],
                "recalled": follow_up.answered_by(with_memory["answer"]),
                "unprompted": follow_up.answered_by(without["answer"]),
            }
            report["memory"].append(row)
            print(
                f"memory take {take}: {first!r} -> {row['heard']!r}: "
                f"{row['with_memory']!r} (without: {row['without_memory']!r})",
                flush=True,
            )
    engine.clear_history()
    clips = real_speech.load_clips()
    transcripts = []
    for clip in clips:
        result = await engine.process_realtime_chunk(
            clip.samples, clip.name, "transcribe", sample_rate=clip.sample_rate
        )
        transcripts.append(result["text"])
        print(f"{clip.name}: {clip.transcript!r} heard {result['text']!r}", flush=True)
    report["real_speech"] = {
        "wer": real_speech.word_error_rate([c.transcript for c in clips], transcripts),
        "rows": [
            {"clip": c.name, "seconds": round(c.seconds, 2), "transcript": t}
            for c, t in zip(clips, transcripts)
        ],
    }
    await engine.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--takes", type=int, default=0, help="varied piper takes")
    parser.add_argument(
        "--dtype", default="auto", choices=("auto", "float32", "bfloat16")
    )
    parser.add_argument(
        "--perturb",
        action="store_true",
        help="also hear every sentence 12 ways (shifted, quieter): how robust it is",
    )
    parser.add_argument("--json", type=Path, help="also write the full results here")
    args = parser.parse_args()
    report = asyncio.run(measure(args.dtype, args.takes, args.perturb))
    print(f"\n{report['engine']}")
    n = len(QUESTIONS)
    for name, result in report["questions"].items():
        print(
            f"questions, {name}: {result['right']}/{n} right, WER {result['wer']:.3f}"
        )
    worst = max(r["wer"] for r in report["transcribe"])
    print(f"transcribe mode: worst WER {worst:.3f} over {len(report['transcribe'])}")
    memory = report["memory"]
    print(
        f"memory: recalled {sum(r['recalled'] for r in memory)}/{len(memory)}, "
        f"answered with no memory {sum(r['unprompted'] for r in memory)}/{len(memory)}"
    )
    print(f"real speech: corpus WER {report['real_speech']['wer']:.3f}")
    for voice in (PIPER, ESPEAK):
        rows = [r for r in report.get("robustness", []) if r["voice"] == voice]
        if rows:
            exact = sum(r["exact"] for r in rows)
            total = sum(r["of"] for r in rows)
            print(
                f"robustness, {voice}: {exact}/{total} altered readings heard exactly"
            )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
