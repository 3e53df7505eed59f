"""The embedded default in the rooms and on the microphones people really have, against the
same pipeline as it was before (no quiet-speech step, no clock, no doubt), in one run.

    .venv/bin/python -m benchmarks.evaluate_conditions [--quick] [--now-model ID]

``--now-model embedded-large-v3-turbo`` (or another recogniser of the model picker) asks
*now* with that recogniser, downloaded from the hub once, against *before* on Whisper base:
the check for a machine that can reach the hub and run it (a GPU).

* Conditions: the spoken questions (every other one of benchmarks/data/questions.yaml, in
  piper's natural voice) clean and degraded as microphones and rooms degrade speech
  (``testkit.conditions``): a low input gain, white, pink and babble noise, a reverberant
  room, a phone line, a 44.1 kHz stereo device, mains hum with a DC offset. Each is asked
  through the engine as the window asks (a preview at the pause, the call at the
  release); right is an answer holding an accepted word. Both pipelines answer every
  question (``embedded.misheard: answer``) and the doubt each transcript raises is
  recorded, so the report can say which wrong answers asking would have caught and
  which right ones it would have cost.
* Date: weekday, date, year and time, scored against the clock at the answer.
* Languages: German, French and Spanish questions in espeak-ng's voices, with
  ``embedded.language: auto`` and with the language chosen; right is the fact, in the
  question's language.

Writes benchmarks/results/conditions.json (every row) and conditions.md (tables).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.engine_overhead import machine
from benchmarks.evaluate_embedded import (
    PAUSE_S,
    RELEASE_S,
    SpokenQuestion,
    _median,
    _p90,
    load_questions,
)
from core import StreamingEngine, load_config
from core.audio import resample
from testkit import conditions as room
from testkit import real_speech
from testkit.foreign import FOREIGN, holds_fact, in_language
from testkit.voices import PIPER, speak, speak_espeak

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
RATE = 16000

# "before": the embedded default as it was before these levers (issue 23); "now": today's.
PIPELINES: dict[str, dict[str, Any]] = {
    "before": {
        "audio": {"quiet_speech": "off"},
        "prompts": {"local_time": False},
    },
    "now": {},
}

Audio = tuple[np.ndarray, int]


def conditions() -> dict[str, Callable[[np.ndarray], Audio]]:
    """Each condition: 16 kHz mono speech in, what the engine is handed out."""
    seconds = 20.0
    white = room.white_noise(seconds, RATE, seed=1)
    pink = room.pink_noise(seconds, RATE, 0.0, seed=2)
    talk = room.people_talking(seconds, RATE)
    return {
        "clean": lambda s: (s, RATE),
        "quiet (-25 dB)": lambda s: (room.at_gain(s, -25), RATE),
        "very quiet (-35 dB)": lambda s: (room.at_gain(s, -35), RATE),
        "white noise, SNR 10 dB": lambda s: (room.with_noise(s, white, 10), RATE),
        "fan (pink noise), SNR 5 dB": lambda s: (room.with_noise(s, pink, 5), RATE),
        "babble (4 talkers across the room), SNR 5 dB": lambda s: (
            room.with_noise(s, talk, 5),
            RATE,
        ),
        "reverberant room, RT60 0.6 s": lambda s: (
            room.reverberant(s, RATE, 0.6),
            RATE,
        ),
        "phone band, 8 kHz int16": lambda s: (room.phone_band(s, RATE), 8000),
        "44.1 kHz stereo device": lambda s: (room.stereo_device(s, RATE), 44100),
        "50 Hz hum + DC offset": lambda s: (
            s + room.hum(len(s) / RATE, RATE, 0.03, dc=0.05),
            RATE,
        ),
    }


def padded(audio: np.ndarray, seconds: float, rate: int) -> np.ndarray:
    """``audio`` with ``seconds`` of silence after it (as the device delivers it)."""
    pad = np.zeros((round(seconds * rate), *audio.shape[1:]), audio.dtype)
    return np.concatenate([audio, pad])


async def load(overrides: dict[str, Any]) -> StreamingEngine:
    base: dict[str, Any] = {
        "model": {"id": "embedded"},
        "memory": {"turns": 0},  # each question stands alone
        # the first word is a chunk; the fact is in the first sentence, and 40 tokens keep
        # the ~560 answers of a run to about half an hour on 2 cores
        "chunked_response": {
            "chunk_size_words": 1,
            "generation": {"max_new_tokens": 40},
        },
        "embedded": {"misheard": "answer"},  # doubt recorded, every question answered
    }
    for section, values in overrides.items():
        base[section] = {**base.get(section, {}), **values}
    engine = StreamingEngine(load_config(overrides=base))
    await engine.initialize()
    return engine


async def ask(
    engine: StreamingEngine, speech: np.ndarray, rate: int, turn: str
) -> dict:
    """One push-to-talk turn: a preview at the pause, the call at the release."""
    await engine.preview(padded(speech, PAUSE_S, rate), sample_rate=rate)
    await asyncio.sleep(RELEASE_S - PAUSE_S)
    clip = padded(speech, RELEASE_S, rate)
    started, first_word_ms, texts, final = time.perf_counter(), None, [], {}
    async for item in engine.process_realtime_chunk_streaming(
        clip, turn, sample_rate=rate
    ):
        if item["text"]:
            texts.append(item["text"])
            if first_word_ms is None:
                first_word_ms = (time.perf_counter() - started) * 1000
        final = item
    timings = final.get("timings") or {}
    return {
        "heard": final.get("heard") or "",
        "answer": " ".join(texts),
        "error": final.get("error"),
        "first_word_ms": first_word_ms,
        "doubt": timings.get("doubt"),
        "heard_logprob": timings.get("heard_logprob"),
        "heard_min_logprob": timings.get("heard_min_logprob"),
        "no_speech_prob": timings.get("no_speech_prob"),
        "quiet_input_dbfs": timings.get("quiet_input_dbfs"),
        "language": timings.get("language"),
    }


def heard_right(question: str, heard: str) -> bool:
    return real_speech.normalise(question) == real_speech.normalise(heard)


async def run_conditions(
    engines: dict[str, StreamingEngine], questions: list[SpokenQuestion]
) -> list[dict]:
    rows = []
    made = conditions()
    for n, q in enumerate(questions):
        speech = resample(*speak(q.question, voice=PIPER), RATE)
        for condition, degrade in made.items():
            audio, rate = degrade(speech)
            order = list(engines) if n % 2 == 0 else list(reversed(engines))
            for name in order:
                row = await ask(engines[name], audio, rate, f"{name}-{n}-{condition}")
                row.update(
                    pipeline=name,
                    condition=condition,
                    question=q.question,
                    right=row["error"] is None and q.answered_by(row["answer"]),
                    heard_right=heard_right(q.question, row["heard"]),
                )
                rows.append(row)
                print(
                    f"{name:6} {condition[:14]:14} {'ok ' if row['right'] else 'NO '}"
                    f"{'?' if row['doubt'] else ' '} {row['first_word_ms'] or 0:5.0f} ms"
                    f" | {row['heard']} -> {row['answer'][:70]}",
                    flush=True,
                )
    return rows


# -- the date group ---------------------------------------------------------------------

DATE_QUESTIONS = {
    "weekday": "What day of the week is it today?",
    "date": "What is today's date?",
    "year": "What year is it?",
    "time": "What time is it?",
}


def date_right(kind: str, answer: str, at: datetime) -> bool:
    """Whether ``answer`` holds the fact, as of ``at`` (the time a minute either side)."""
    text = answer.lower()
    if kind == "weekday":
        return f"{at:%A}".lower() in text
    if kind == "year":
        return str(at.year) in text
    if kind == "date":
        day = str(at.day)
        month = f"{at:%B}".lower()
        return (
            month in text and re.search(rf"\b{day}(st|nd|rd|th)?\b", text) is not None
        )
    times = set()
    for delta in (-1, 0, 1):
        t = at + timedelta(minutes=delta)
        times |= {f"{t:%H:%M}", f"{t.hour % 12 or 12}:{t:%M}"}
    return any(found in times for found in re.findall(r"\b\d{1,2}:\d{2}\b", text))


async def run_dates(engines: dict[str, StreamingEngine]) -> list[dict]:
    rows = []
    for kind, question in DATE_QUESTIONS.items():
        speech = resample(*speak(question, voice=PIPER), RATE)
        for name, engine in engines.items():
            row = await ask(engine, speech, RATE, f"{name}-date-{kind}")
            at = datetime.now().astimezone()
            row.update(
                pipeline=name,
                kind=kind,
                question=question,
                right=row["error"] is None and date_right(kind, row["answer"], at),
            )
            rows.append(row)
            print(f"{name:6} {kind:8} {row['right']} | {row['answer']}", flush=True)
    return rows


# -- the language group -----------------------------------------------------------------


async def run_languages(quick: bool, model: str = "embedded") -> list[dict]:
    rows = []
    items = FOREIGN[::2] if quick else FOREIGN
    codes = sorted({code for _, code, _, _ in items})
    among = ["en", *codes]
    # (the setting's name in the report, the config that makes it)
    settings = [
        ("auto", {"language": "auto"}),
        (
            f"auto among {', '.join(among)}",
            {"language": "auto", "auto_languages": among},
        ),
        *((code, {"language": code}) for code in codes),
    ]
    for setting, embedded in settings:
        engine = await load({"model": {"id": model}, "embedded": embedded})
        try:
            for voice, code, question, accept in items:
                if embedded["language"] not in ("auto", code):
                    continue
                speech = resample(*speak_espeak(question, 130, voice), RATE)
                row = await ask(engine, speech, RATE, f"lang-{setting}-{code}")
                holds = holds_fact(row["answer"], accept)
                row.update(
                    setting=setting,
                    question_language=code,
                    question=question,
                    holds_fact=holds,
                    answered_in_language=in_language(row["answer"], code),
                )
                row["right"] = (
                    row["error"] is None and holds and row["answered_in_language"]
                )
                rows.append(row)
                print(
                    f"{setting} {code} {row['right']} heard {row['language']}: "
                    f"{row['heard']} -> {row['answer']}",
                    flush=True,
                )
        finally:
            await engine.close()
    return rows


# -- the report -------------------------------------------------------------------------


def summarise(rows: list[dict], dates: list[dict], languages: list[dict]) -> dict:
    summary: dict[str, Any] = {"conditions": {}, "doubt": {}, "latency": {}}
    names = list(PIPELINES)
    for condition in dict.fromkeys(r["condition"] for r in rows):
        entry = {}
        for name in names:
            mine = [
                r for r in rows if r["pipeline"] == name and r["condition"] == condition
            ]
            right = sum(r["right"] for r in mine)
            asked = sum(r["right"] and not r["doubt"] for r in mine)
            entry[name] = {
                "right": right,
                "questions": len(mine),
                "accuracy": round(right / len(mine), 3),
                "right_when_asking": asked,
                "flagged": sum(bool(r["doubt"]) for r in mine),
                "heard_exactly": sum(r["heard_right"] for r in mine),
            }
        summary["conditions"][condition] = entry
    now = [r for r in rows if r["pipeline"] == "now"]
    wrong = [r for r in now if not r["right"] and not r["error"]]
    misheard_wrong = [r for r in wrong if not r["heard_right"]]
    clean = [r for r in now if r["condition"] == "clean"]
    summary["doubt"] = {
        "wrong_answers": len(wrong),
        "misheard_wrong_answers": len(misheard_wrong),
        "misheard_wrong_flagged": sum(bool(r["doubt"]) for r in misheard_wrong),
        "wrong_flagged": sum(bool(r["doubt"]) for r in wrong),
        "right_answers_flagged": sum(bool(r["doubt"]) for r in now if r["right"]),
        "right_answers": sum(r["right"] for r in now),
        "clean_flagged": sum(bool(r["doubt"]) for r in clean),
        "clean_questions": len(clean),
    }
    # every condition both pipelines answered (before hears no very quiet speech)
    both = {
        (r["question"], r["condition"])
        for r in rows
        if r["pipeline"] == "before" and r["first_word_ms"] is not None
    }
    for name in names:
        clean_rows = [
            r for r in rows if r["pipeline"] == name and r["condition"] == "clean"
        ]
        shared = [
            r["first_word_ms"]
            for r in rows
            if r["pipeline"] == name
            and (r["question"], r["condition"]) in both
            and r["first_word_ms"] is not None
        ]
        summary["latency"][name] = {
            "first_word_ms_median": _median([r["first_word_ms"] for r in clean_rows]),
            "first_word_ms_p90": _p90([r["first_word_ms"] for r in clean_rows]),
            "all_conditions_median": _median(shared),
            "all_conditions_p90": _p90(shared),
            "all_conditions_turns": len(shared),
        }
    # each turn against the same question in the same condition asked of the other
    # pipeline next to it: the two sides' medians move with a few slow turns either way
    first = {
        (r["pipeline"], r["question"], r["condition"]): r["first_word_ms"] for r in rows
    }

    def paired(which: set) -> dict[str, float | int | None]:
        gaps = sorted(
            first[("now", q, c)] - first[("before", q, c)]
            for q, c in which
            if first.get(("now", q, c)) is not None
        )
        return {
            "turns": len(gaps),
            "median": _median(gaps),
            "quartiles": [
                round(float(np.percentile(gaps, q)), 1) if gaps else None
                for q in (25, 75)
            ],
        }

    summary["latency"]["now_minus_before"] = {
        "clean": paired({k for k in both if k[1] == "clean"}),
        "all_conditions": paired(both),
    }
    summary["dates"] = {
        name: {r["kind"]: r["right"] for r in dates if r["pipeline"] == name}
        for name in names
    }
    summary["languages"] = {}
    for r in languages:
        key = f"{r['question_language']} ({r['setting']})"
        entry = summary["languages"].setdefault(
            key, {"questions": 0, "right": 0, "in_language": 0, "heard_as": []}
        )
        entry["questions"] += 1
        entry["right"] += bool(r["right"])
        entry["in_language"] += bool(r["answered_in_language"])
        entry["heard_as"].append(r["language"])
    return summary


def markdown(report: dict) -> str:
    s, m = report["summary"], report["machine"]
    pipelines = report.get("pipelines", PIPELINES)
    names = list(pipelines)
    now = pipelines["now"]
    lines = [
        (
            f"Machine: {m['cpu']}, {m['cores']} cores. **before**: "
            f"{pipelines['before']} (the embedded default before these levers); **now**: "
            f"today's defaults{f', with {now}' if now else ''}. Both answer every question"
            " (`embedded.misheard: answer`); "
            "*asking* counts a flagged question as not answered (what the app does)."
        ),
        "",
        (
            "| condition | before | now | now vs clean | now, asking (flagged) "
            "| heard exactly, now |"
        ),
        "|---|---|---|---|---|---|",
    ]
    clean = s["conditions"]["clean"]["now"]["accuracy"]
    for condition, entry in s["conditions"].items():
        b, n = entry["before"], entry["now"]
        points = round((n["accuracy"] - clean) * 100)
        lines.append(
            f"| {condition} | {b['right']}/{b['questions']} ({b['accuracy']:.0%}) "
            f"| {n['right']}/{n['questions']} ({n['accuracy']:.0%}) | {points:+d} "
            f"| {n['right_when_asking']}/{n['questions']} ({n['flagged']}) "
            f"| {n['heard_exactly']}/{n['questions']} |"
        )
    d = s["doubt"]
    lines += [
        "",
        (
            f"Doubt (now): of {d['misheard_wrong_answers']} wrong answers to a misheard "
            f"question, **{d['misheard_wrong_flagged']} flagged**; of all "
            f"{d['wrong_answers']} wrong answers, {d['wrong_flagged']} flagged. False flags: "
            f"**{d['clean_flagged']} of {d['clean_questions']} clean questions**, and "
            f"{d['right_answers_flagged']} of {d['right_answers']} right answers over all "
            "conditions."
        ),
        "",
        "| first answer word after release (ms) | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| clean, median / p90 | "
        + " | ".join(
            f"{s['latency'][n]['first_word_ms_median']} / "
            f"{s['latency'][n]['first_word_ms_p90']}"
            for n in names
        )
        + " |",
        f"| every condition both answered ({s['latency']['now']['all_conditions_turns']}"
        " turns each), median / p90 | "
        + " | ".join(
            f"{s['latency'][n]['all_conditions_median']} / "
            f"{s['latency'][n]['all_conditions_p90']}"
            for n in names
        )
        + " |",
        "",
        "Paired: each turn's first word now minus before, same question, same condition"
        " (negative: sooner now): "
        + "; ".join(
            f"{label} median {g['median']} ms (quartiles {g['quartiles'][0]} to"
            f" {g['quartiles'][1]}, {g['turns']} pairs)"
            for label, g in (
                ("clean", s["latency"]["now_minus_before"]["clean"]),
                ("every condition", s["latency"]["now_minus_before"]["all_conditions"]),
            )
        )
        + ".",
        "",
        "| date question | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for kind in DATE_QUESTIONS:
        lines.append(
            f"| {kind} | "
            + " | ".join("yes" if s["dates"][n].get(kind) else "**no**" for n in names)
            + " |"
        )
    lines += [
        "",
        (
            "| questions (embedded.language) | right, in its language | answered in its "
            "language | language Whisper heard |"
        ),
        "|---|---|---|---|",
    ]
    for key, e in s["languages"].items():
        lines.append(
            f"| {key} | {e['right']}/{e['questions']} | {e['in_language']}/"
            f"{e['questions']} | {', '.join(map(str, e['heard_as']))} |"
        )
    lines += [
        "",
        "| pipeline | condition | question | heard | answer | right | doubt |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        answer = r["answer"].replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {r['pipeline']} | {r['condition']} | {r['question']} | {r['heard']} "
            f"| {answer} | {'yes' if r['right'] else '**no**'} | {r['doubt'] or ''} |"
        )
    for r in report["dates"] + report["languages"]:
        answer = r["answer"].replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {r.get('pipeline') or r.get('setting')} | "
            f"{r.get('kind') or r.get('question_language')} | {r['question']} | "
            f"{r['heard']} | {answer} | {'yes' if r['right'] else '**no**'} | "
            f"{r['doubt'] or ''} |"
        )
    return "\n".join(lines) + "\n"


async def evaluate(quick: bool, half: int = 0, now_model: str | None = None) -> dict:
    """``half`` 0: the even-numbered questions (the report's); 1: the odd ones, on which
    the doubt thresholds were chosen. ``now_model``: the model id *now* asks with."""
    questions = load_questions()[half :: 8 if quick else 2]
    pipelines = dict(PIPELINES)
    if now_model:
        pipelines["now"] = {**pipelines["now"], "model": {"id": now_model}}
    engines = {name: await load(o) for name, o in pipelines.items()}
    try:
        rows = await run_conditions(engines, questions)
        dates = await run_dates(engines)
    finally:
        for engine in engines.values():
            await engine.close()
    languages = await run_languages(quick, now_model or "embedded")
    return {
        "machine": machine(),
        "pipelines": pipelines,
        "summary": summarise(rows, dates, languages),
        "rows": rows,
        "dates": dates,
        "languages": languages,
    }


def rescore(report: dict) -> dict:
    """The same run's answers scored again (after a fix to the scoring, not the app)."""
    for row in report["languages"]:
        accept = next(a for _, c, q, a in FOREIGN if q == row["question"])
        row["holds_fact"] = holds_fact(row["answer"], tuple(accept))
        row["answered_in_language"] = in_language(
            row["answer"], row["question_language"]
        )
        row["right"] = (
            row["error"] is None and row["holds_fact"] and row["answered_in_language"]
        )
    summary = summarise(report["rows"], report["dates"], report["languages"])
    return {**report, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a subset, for a smoke run"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument(
        "--tuning",
        action="store_true",
        help="the other half of the questions (where the doubt thresholds were chosen)",
    )
    parser.add_argument(
        "--now-model",
        metavar="ID",
        help="the model id now asks with (e.g. embedded-large-v3-turbo; before stays on"
        " the embedded default)",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="score the answers in --out's conditions.json again; run nothing",
    )
    args = parser.parse_args()
    if args.rescore:
        report = rescore(json.loads((args.out / "conditions.json").read_text()))
    else:
        report = asyncio.run(
            evaluate(args.quick, 1 if args.tuning else 0, args.now_model)
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "conditions.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / "conditions.md").write_text(text)
    print(text.split("\n\n| pipeline")[0])


if __name__ == "__main__":
    main()
