"""Evaluate the embedded default on the spoken-question set: accuracy and word error rate.

    .venv/bin/python -m benchmarks.evaluate_embedded [--chat-model qwen2.5-0.5b] [--json OUT]

Each question in benchmarks/spoken_questions.yaml is spoken with espeak-ng, sent through the
engine exactly as the app sends a clip, and scored: the transcript against the question (WER),
the answer by its expected keywords.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from pathlib import Path

from benchmarks.spoken import load_questions, speak, word_error_rate
from core import StreamingEngine, load_config


async def evaluate(chat_model: str) -> dict:
    config = load_config(
        overrides={"model": {"id": "embedded"}, "embedded": {"chat_model": chat_model}}
    )
    # Each question stands alone: memory off, so earlier answers cannot help or hurt.
    config = config.model_copy(
        update={"memory": config.memory.model_copy(update={"turns": 0})}
    )
    engine = StreamingEngine(config)
    await engine.initialize()
    rows = []
    for i, q in enumerate(load_questions()):
        samples, rate = speak(q.question)
        result = await engine.process_realtime_chunk(samples, i, sample_rate=rate)
        rows.append(
            {
                "question": q.question,
                "heard": result.get("heard") or "",
                "answer": result["text"],
                "correct": result["success"] and q.answered_by(result["text"]),
                "recognition_ms": result.get("timings", {}).get("recognition_ms"),
                "ttfc_ms": result.get("ttfc_ms"),
                "error": result.get("error"),
            }
        )
    await engine.close()
    wer = word_error_rate([r["question"] for r in rows], [r["heard"] for r in rows])
    correct = sum(r["correct"] for r in rows)
    return {
        "chat_model": chat_model,
        "questions": len(rows),
        "correct": correct,
        "accuracy": correct / len(rows),
        "wer": wer,
        "median_recognition_ms": statistics.median(
            r["recognition_ms"] or 0 for r in rows
        ),
        "median_ttfc_ms": statistics.median(r["ttfc_ms"] or 0 for r in rows),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--chat-model", default="qwen2.5-0.5b", choices=("qwen2.5-0.5b", "smollm2-135m")
    )
    parser.add_argument("--json", type=Path, help="also write the full results here")
    args = parser.parse_args()
    report = asyncio.run(evaluate(args.chat_model))
    print("| # | heard | answer | ok |\n|---|---|---|---|")
    for i, row in enumerate(report["rows"], 1):
        answer = row["answer"].replace("|", "/").replace("\n", " ")
        print(
            f"| {i} | {row['heard']} | {answer} | {'yes' if row['correct'] else 'NO'} |"
        )
    print(
        f"\n{report['chat_model']}: accuracy {report['correct']}/{report['questions']} "
        f"({report['accuracy']:.0%}), transcript WER {report['wer']:.1%}, "
        f"median recognition {report['median_recognition_ms']:.0f} ms, "
        f"median first chunk {report['median_ttfc_ms']:.0f} ms after the clip"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
