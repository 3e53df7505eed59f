"""Run every benchmark, each in a fresh process, and write one report.

    .venv/bin/python -m benchmarks.run_all [--cold]

Writes benchmarks/results/report.json (the headline figures, with machine details) and
benchmarks/results/report.md (the same as a Markdown table), next to each benchmark's own JSON.
About 6 minutes on 2 cores; --cold adds a first start on an empty model cache (~1 min).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.engine_overhead import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TINY = HERE / "out" / "tiny-qwen2-audio"


def run(module: str, *args: str) -> float:
    started = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen"}
    print(f"== {module} {' '.join(args)}", flush=True)
    subprocess.run(
        [sys.executable, "-m", module, *args], check=True, env=env, cwd=HERE.parent
    )
    return time.perf_counter() - started


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cold", action="store_true", help="also time a first start")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild the report from existing results",
    )
    args = parser.parse_args()
    if not args.report_only:
        if not (TINY / "config.json").exists():
            from core.tiny_model import build

            build(TINY, "qwen2-audio")
        run("benchmarks.engine_overhead")
        run("benchmarks.embedded_latency", *(["--cold"] if args.cold else []))
        run("benchmarks.gui_responsiveness")
        run("benchmarks.memory_prefill")
        run("benchmarks.soak", str(TINY), "--json", str(RESULTS / "soak.json"))
        run("benchmarks.evaluate_embedded", "--json", str(RESULTS / "evaluation.json"))

    engine, embedded = load("engine_overhead.json"), load("embedded_latency.json")
    gui, soak, evaluation = (
        load("gui_responsiveness.json"),
        load("soak.json"),
        load("evaluation.json"),
    )
    memory = load("memory_prefill.json")
    report = {
        "engine_throughput_ratio": round(
            engine["throughput"]["engine_throughput_ratio"], 4
        ),
        "ttfc_overhead_ms": round(engine["throughput"]["ttfc_overhead_ms"], 1),
        "call_to_generate_ms_10s": round(
            engine["call_to_generate_ms"]["memory_10s"], 2
        ),
        "call_to_generate_ms_10s_file": round(
            engine["call_to_generate_ms"]["file_10s"], 2
        ),
        "first_word_s": round(embedded["first_word_ms"] / 1000, 3),
        "first_chunk_s": round(embedded["first_chunk_ms"] / 1000, 3),
        "recognition_ms": round(embedded["recognition_ms"], 1),
        "prefill_ms": round(embedded["prefill_ms"], 1),
        "embedded_tokens_per_s": round(embedded["tokens_per_s"], 1),
        "load_warm_s": round(embedded["load_warm_s"], 2),
        "gui_max_stall_ms": round(gui["gui_max_stall_ms"], 2),
        "meter_hz": round(gui["meter_hz"], 1),
        "barge_in_stop_ms": round(engine["barge_in_stop_ms"], 1),
        "decode_step_ms": round(engine["decode_step_ms"], 1),
        "soak_rss_growth_mb": soak["rss_growth_mb"],
        "soak_python_objects_growth": soak["python_objects_growth"],
        "soak_turns": soak["turns"],
        "spoken_accuracy": round(evaluation["accuracy"], 3),
        "spoken_wer": round(evaluation["wer"], 3),
        "memory_prefill_ms_per_turn": round(
            (memory["rows"][-1]["prefill_ms"] - memory["rows"][0]["prefill_ms"])
            / max(len(memory["rows"]) - 1, 1),
            1,
        ),
        "machine": machine(),
    }
    if "load_cold_s" in embedded:
        report["load_cold_s"] = round(embedded["load_cold_s"], 1)
    (RESULTS / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        (
            "engine throughput / raw generate (target >= 0.98)",
            report["engine_throughput_ratio"],
        ),
        (
            "engine first 4-word chunk vs naive first word (ms)",
            report["ttfc_overhead_ms"],
        ),
        (
            "call -> generate(), 10 s clip, memory / file (ms; target <= 15)",
            f"{report['call_to_generate_ms_10s']} / {report['call_to_generate_ms_10s_file']}",
        ),
        (
            "embedded: first answer word after the clip (s; target <= 1.0)",
            report["first_word_s"],
        ),
        ("embedded: first 4-word chunk (s)", report["first_chunk_s"]),
        (
            "embedded: recognition / prefill (ms)",
            f"{report['recognition_ms']} / {report['prefill_ms']}",
        ),
        ("embedded: decoding (tokens/s)", report["embedded_tokens_per_s"]),
        ("embedded: load, warm cache (s)", report["load_warm_s"]),
        (
            "window: longest event-loop stall while streaming (ms; target <= 16)",
            report["gui_max_stall_ms"],
        ),
        ("window: energy meter rate (Hz; target >= 30)", report["meter_hz"]),
        (
            "barge-in: stop + join after aclose() (ms) / one decoding step (ms)",
            f"{report['barge_in_stop_ms']} / {report['decode_step_ms']}",
        ),
        (
            f"soak: growth over {report['soak_turns']} turns, RSS (MB; target <= 20) / objects",
            f"{report['soak_rss_growth_mb']} / {report['soak_python_objects_growth']}",
        ),
        (
            "spoken questions: accuracy / transcript WER",
            f"{report['spoken_accuracy']:.0%} / {report['spoken_wer']:.1%}",
        ),
        (
            "audio-model memory: prefill added per remembered turn (ms, CPU)",
            report["memory_prefill_ms_per_turn"],
        ),
    ]
    if "load_cold_s" in report:
        rows.append(("embedded: load, cold (s)", report["load_cold_s"]))
    m = report["machine"]
    header = (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, torch {m['torch']}"
        f" ({m['torch_threads']} threads), Python {m['python']}, {m['device']}"
    )
    lines = [
        header,
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    (RESULTS / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
