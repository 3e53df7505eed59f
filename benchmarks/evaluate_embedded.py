"""Evaluate the embedded default against the pipeline it replaced, side by side in one run.

    .venv/bin/python -m benchmarks.evaluate_embedded [--quick]

* Spoken questions (benchmarks/data/questions.yaml, 52 everyday questions with accepted
  answers), each spoken by piper's natural voice and by espeak-ng's robotic one, sent
  through the engine exactly as the window sends a clip: right or wrong, what was heard,
  and the first answer word's latency after the key is released.
* Dictation (benchmarks/data/dictation.yaml) in both voices, and real human recordings
  (Debian's pocketsphinx-testdata), in transcribe mode: corpus word error rate, numbers and
  spellings normalised.

Latency: the speaker lets go of the key 0.3 s after the last word, so each clip ends with
0.3 s of silence. The window previews the clip at a 0.2 s pause (``StreamingEngine.preview``),
i.e. 0.1 s before the release; the run does the same for the pipelines that support it.
Questions alternate between the pipelines, so both see the same machine state. Both are
loaded in this one process, where the other's thread pools slow llama.cpp somewhat (the app
holds one): ``embedded_latency`` times each pipeline alone, and its figures are the headline.

Writes benchmarks/results/evaluation.json (every row) and evaluation.md (tables).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from benchmarks.engine_overhead import machine
from core import StreamingEngine, load_config
from core.audio import resample
from testkit import real_speech
from testkit.voices import ESPEAK, PIPER, speak

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
RATE = 16000
RELEASE_S, PAUSE_S = 0.3, 0.2

# "before": the embedded default until November 2026; "now": today's defaults.
PIPELINES: dict[str, dict[str, Any]] = {
    "before": {
        "chat_model": "qwen2.5-0.5b",
        "chat_runtime": "transformers",
        "recognizer_window": "full",
    },
    "now": {},
}
# The window previews at pauses only since the "now" pipeline: "before" had no such step.
PREVIEW = {"before": False, "now": True}


@dataclass(frozen=True)
class SpokenQuestion:
    kind: str
    question: str
    accept: tuple[str, ...]
    reject: tuple[str, ...] = ()

    def answered_by(self, answer: str) -> bool:
        """Whole-word match of an accepted answer, numbers compared as digits."""
        text = f" {real_speech.normalise(answer)} "

        def has(phrase: str) -> bool:
            return f" {real_speech.normalise(phrase)} " in text

        return any(map(has, self.accept)) and not any(map(has, self.reject))


def load_questions(path: Path = DATA / "questions.yaml") -> list[SpokenQuestion]:
    return [
        SpokenQuestion(
            q["kind"],
            q["question"],
            tuple(map(str, q["accept"])),
            tuple(map(str, q.get("reject", ()))),
        )
        for q in yaml.safe_load(path.read_text())
    ]


def load_dictation(path: Path = DATA / "dictation.yaml") -> list[str]:
    return list(yaml.safe_load(path.read_text()))


def spoken(text: str, voice: str) -> np.ndarray:
    samples, rate = speak(text, voice=voice)
    return resample(samples, rate, RATE)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


async def load(name: str) -> StreamingEngine:
    config = load_config(
        overrides={
            "model": {"id": "embedded"},
            "embedded": PIPELINES[name],
            "memory": {"turns": 0},  # each question stands alone
            "chunked_response": {"chunk_size_words": 1},  # the first word is a chunk
        }
    )
    engine = StreamingEngine(config)
    await engine.initialize()
    return engine


async def ask(
    engine: StreamingEngine, speech: np.ndarray, chunk_id: str, preview: bool
) -> dict:
    """One push-to-talk turn: a preview at the pause, the call at the release."""
    if preview:
        await engine.preview(np.r_[speech, silence(PAUSE_S)], sample_rate=RATE)
        await asyncio.sleep(RELEASE_S - PAUSE_S)
    clip = np.r_[speech, silence(RELEASE_S)]
    started, first_word_ms, texts = time.perf_counter(), None, []
    async for item in engine.process_realtime_chunk_streaming(
        clip, chunk_id, sample_rate=RATE
    ):
        if item["text"]:
            texts.append(item["text"])
            if first_word_ms is None:
                first_word_ms = (time.perf_counter() - started) * 1000
        final = item
    timings = final.get("timings") or {}
    decode_s = (final.get("total_ms", 0) - (timings.get("first_token_ms") or 0)) / 1000
    tokens = final.get("generated_tokens") or 0
    return {
        "heard": final.get("heard") or "",
        "answer": " ".join(texts),
        "error": final.get("error"),
        "first_word_ms": first_word_ms,
        "recognition_ms": timings.get("recognition_ms"),
        "recognised_while_recording": timings.get("recognised_while_recording", False),
        "decode_tokens_per_s": (tokens - 1) / decode_s
        if tokens >= 8 and decode_s > 0
        else None,
    }


async def transcribe(engine: StreamingEngine, samples: np.ndarray) -> str:
    result = await engine.process_realtime_chunk(
        samples, "dictation", "transcribe", sample_rate=RATE
    )
    return result["text"]


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 1) if values else None


def _p90(values: list[float | None]) -> float | None:
    values = sorted(v for v in values if v is not None)
    return round(values[int(0.9 * (len(values) - 1))], 1) if values else None


async def evaluate(quick: bool) -> dict:
    questions = load_questions()
    dictation = load_dictation()
    clips = real_speech.load_clips()
    if quick:
        questions, dictation = questions[::6], dictation[::4]
    engines = {name: await load(name) for name in PIPELINES}
    rows: list[dict] = []
    for voice in (PIPER, ESPEAK):
        for n, q in enumerate(questions):
            speech = spoken(q.question, voice)
            order = list(PIPELINES) if n % 2 == 0 else list(reversed(PIPELINES))
            for name in order:
                row = await ask(
                    engines[name], speech, f"{name}-{voice}-{n}", PREVIEW[name]
                )
                row.update(
                    pipeline=name,
                    voice=voice,
                    kind=q.kind,
                    question=q.question,
                    right=row["error"] is None and q.answered_by(row["answer"]),
                )
                rows.append(row)
                print(
                    f"{name:6} {voice:9} {'ok ' if row['right'] else 'NO '}"
                    f"{row['first_word_ms'] or 0:5.0f} ms | {row['heard']} -> {row['answer']}",
                    flush=True,
                )
    transcripts: dict[str, dict[str, list[str]]] = {}
    for name, engine in engines.items():
        sets = transcripts.setdefault(name, {})
        for voice in (PIPER, ESPEAK):
            sets[voice] = [
                await transcribe(engine, spoken(s, voice)) for s in dictation
            ]
        sets["real"] = [await transcribe(engine, clip.samples) for clip in clips]
    for engine in engines.values():
        await engine.close()

    summary: dict[str, Any] = {}
    for name, settings in PIPELINES.items():
        mine = [r for r in rows if r["pipeline"] == name]
        entry: dict[str, Any] = {"settings": settings}
        for voice in (PIPER, ESPEAK):
            subset = [r for r in mine if r["voice"] == voice]
            entry[voice] = {
                "right": sum(r["right"] for r in subset),
                "questions": len(subset),
                "accuracy": round(sum(r["right"] for r in subset) / len(subset), 3),
                "question_wer": round(
                    real_speech.word_error_rate(
                        [r["question"] for r in subset], [r["heard"] for r in subset]
                    ),
                    3,
                ),
                "dictation_wer": round(
                    real_speech.word_error_rate(dictation, transcripts[name][voice]), 3
                ),
                "first_word_ms_median": _median([r["first_word_ms"] for r in subset]),
                "first_word_ms_p90": _p90([r["first_word_ms"] for r in subset]),
            }
        entry["real_wer"] = round(
            real_speech.word_error_rate(
                [c.transcript for c in clips], transcripts[name]["real"]
            ),
            3,
        )
        entry["decode_tokens_per_s"] = _median([r["decode_tokens_per_s"] for r in mine])
        entry["recognition_ms_median"] = _median([r["recognition_ms"] for r in mine])
        summary[name] = entry
    return {
        "machine": machine(),
        "summary": summary,
        "real_speech": [
            {
                "clip": c.name,
                "reference": c.transcript,
                **{n: transcripts[n]["real"][i] for n in PIPELINES},
            }
            for i, c in enumerate(clips)
        ],
        "dictation": [
            {
                "reference": s,
                **{
                    f"{n} {v}": transcripts[n][v][i]
                    for n in PIPELINES
                    for v in (PIPER, ESPEAK)
                },
            }
            for i, s in enumerate(dictation)
        ],
        "rows": rows,
    }


def markdown(report: dict) -> str:
    s = report["summary"]
    m = report["machine"]
    names = list(s)
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores. Pipelines: "
        + "; ".join(f"**{n}** {s[n]['settings'] or '(defaults)'}" for n in names),
        "",
        "| measure | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]

    def row(label: str, fn) -> None:
        lines.append(f"| {label} | " + " | ".join(str(fn(s[n])) for n in names) + " |")

    for voice in (PIPER, ESPEAK):
        row(
            f"questions answered right, {voice} voice",
            lambda e, v=voice: (
                f"{e[v]['right']}/{e[v]['questions']} ({e[v]['accuracy']:.0%})"
            ),
        )
    for voice in (PIPER, ESPEAK):
        row(
            f"question transcript WER, {voice}",
            lambda e, v=voice: f"{e[v]['question_wer']:.1%}",
        )
        row(
            f"dictation WER, {voice}", lambda e, v=voice: f"{e[v]['dictation_wer']:.1%}"
        )
    row("real recordings WER", lambda e: f"{e['real_wer']:.1%}")
    for voice in (PIPER, ESPEAK):
        row(
            f"first answer word after release, median / p90 (ms), {voice}",
            lambda e, v=voice: (
                f"{e[v]['first_word_ms_median']} / {e[v]['first_word_ms_p90']}"
            ),
        )
    row("recognition, median (ms)", lambda e: e["recognition_ms_median"])
    row("answer decoding (tokens/s)", lambda e: e["decode_tokens_per_s"])
    lines += [
        "",
        "| pipeline | voice | question | heard | answer | right | first word (ms) |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for r in report["rows"]:
        answer = r["answer"].replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {r['pipeline']} | {r['voice']} | {r['question']} | {r['heard']} | {answer} "
            f"| {'yes' if r['right'] else '**no**'} | {r['first_word_ms'] or 0:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a subset, for a smoke run"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args()
    report = asyncio.run(evaluate(args.quick))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / "evaluation.md").write_text(text)
    print(text.split("\n\n| pipeline")[0])


if __name__ == "__main__":
    main()
