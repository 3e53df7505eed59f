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
            from testkit.tiny_model import build

            build(TINY, "qwen2-audio")
        run("benchmarks.engine_overhead")
        run("benchmarks.embedded_latency", *(["--cold"] if args.cold else []))
        run("benchmarks.gui_responsiveness", "--turns", "5", "--gil-5ms")
        run("benchmarks.chat_view_scaling")
        run("benchmarks.memory_prefill")
        run("benchmarks.soak", str(TINY), "--json", str(RESULTS / "soak.json"))
        run("benchmarks.evaluate_embedded")
        run("benchmarks.speech_latency")
        run("benchmarks.server_backend")
        run("benchmarks.dictation_latency")

    engine, embedded = load("engine_overhead.json"), load("embedded_latency.json")
    gui, soak, evaluation = (
        load("gui_responsiveness.json"),
        load("soak.json"),
        load("evaluation.json"),
    )
    memory = load("memory_prefill.json")
    speech = load("speech_latency.json")
    server = load("server_backend.json")
    chat = load("chat_view_scaling.json")["add_turn_ms"]
    dictation = load("dictation_latency.json")
    conditions = load("conditions.json")[
        "summary"
    ]  # evaluate_conditions, run on its own
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
        "embedded": {
            name: {
                "first_word_ms": embedded[name]["first_word_ms"],
                "first_4_words_ms": embedded[name]["first_4_words_ms"],
                "recognition_ms": embedded[name]["recognition_ms"],
                "prefill_ms": embedded[name]["prefill_ms"],
                "decode_tokens_per_s": embedded[name]["decode_tokens_per_s"],
                "load_warm_s": round(embedded[name]["load_warm_s"], 2),
                "load_cold_s": round(embedded[name]["load_cold_s"], 1)
                if "load_cold_s" in embedded[name]
                else None,
                "accuracy_piper": evaluation["summary"][name]["piper"]["accuracy"],
                "accuracy_espeak": evaluation["summary"][name]["espeak-ng"]["accuracy"],
                "right_piper": evaluation["summary"][name]["piper"]["right"],
                "right_espeak": evaluation["summary"][name]["espeak-ng"]["right"],
                "questions": evaluation["summary"][name]["piper"]["questions"],
                "wer_real": evaluation["summary"][name]["real_wer"],
                "wer_dictation_espeak": evaluation["summary"][name]["espeak-ng"][
                    "dictation_wer"
                ],
                "wer_dictation_piper": evaluation["summary"][name]["piper"][
                    "dictation_wer"
                ],
                "eval_first_word_ms_median": evaluation["summary"][name]["piper"][
                    "first_word_ms_median"
                ],
                "eval_first_word_ms_p90": evaluation["summary"][name]["piper"][
                    "first_word_ms_p90"
                ],
            }
            for name in ("before", "now")
        },
        "gui_max_stall_ms": round(gui["gui_max_stall_ms"], 2),
        "gui_max_stall_ms_speaking": round(gui["gui_max_stall_ms_speaking"], 2),
        "gui_median_turn_max_stall_ms": round(gui["gui_median_turn_max_stall_ms"], 2),
        "gui_median_turn_max_stall_ms_gil_5ms": round(
            gui["gui_median_turn_max_stall_ms_gil_5ms"], 2
        ),
        "gui_turn_start_draw_ms": gui.get("turn_start_draw_ms"),
        "add_turn_ms_after_160": [chat["app"]["160"], chat["qt"]["160"]],
        "meter_hz": round(gui["meter_hz"], 1),
        "barge_in_stop_ms": round(engine["barge_in_stop_ms"], 1),
        "decode_step_ms": round(engine["decode_step_ms"], 1),
        "soak_rss_growth_mb": soak["rss_growth_mb"],
        "soak_python_objects_growth": soak["python_objects_growth"],
        "soak_turns": soak["turns"],
        "memory_prefill_ms_per_turn": round(
            (memory["rows"][-1]["prefill_ms"] - memory["rows"][0]["prefill_ms"])
            / max(len(memory["rows"]) - 1, 1),
            1,
        ),
        "speech": {
            "first_sound_ms": speech["first_sound_ms"],
            "synthesis_realtime_factor": speech["synthesis_realtime_factor"],
            "barge_in_silence_ms_max": speech["barge_in_silence_ms_max"],
            "decode_ratio_spoken_to_silent": speech["decode_ratio_spoken_to_silent"],
        },
        "server": {
            "first_token_ms": [
                server["raw"]["first_token_ms"],
                server["engine"]["first_token_ms"],
            ],
            "first_4_words_ms": [
                server["raw"]["first_4_words_ms"],
                server["engine"]["first_4_words_ms"],
            ],
            "throughput_ratio": server["throughput_ratio"],
            "first_chunk_after_call_ms": server["engine"]["first_chunk_after_call_ms"],
        },
        "dictation": {
            "release_to_transcript_ms": dictation["release_to_transcript_ms_median"],
            "release_to_typed_ms": dictation["release_to_typed_ms_median"],
            "typing_extra_ms": dictation["extra_ms_median"],
            "first_word_kept": dictation["first_word_kept"],
        },
        "conditions": {
            name: entry["now"]["accuracy"]
            for name, entry in conditions["conditions"].items()
        },
        "misheard_flagged": [
            conditions["doubt"]["misheard_wrong_flagged"],
            conditions["doubt"]["misheard_wrong_answers"],
        ],
        "clean_false_flags": [
            conditions["doubt"]["clean_flagged"],
            conditions["doubt"]["clean_questions"],
        ],
        # rebuilt from the results: the machine that measured them, not this one
        "machine": load("report.json")["machine"] if args.report_only else machine(),
    }
    (RESULTS / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        (
            "engine throughput / raw generate (target >= 0.98)",
            report["engine_throughput_ratio"],
        ),
        (
            "engine first 4-word chunk vs the raw stream's same 4 words (ms)",
            report["ttfc_overhead_ms"],
        ),
        (
            "call -> generate(), 10 s clip, memory / file (ms; target <= 15)",
            f"{report['call_to_generate_ms_10s']} / {report['call_to_generate_ms_10s_file']}",
        ),
        (
            "window: longest event-loop stall while streaming (ms; target <= 16)",
            report["gui_max_stall_ms"],
        ),
        (
            "window: longest stall with the answer read aloud (ms; target <= 16)",
            report["gui_max_stall_ms_speaking"],
        ),
        (
            "window: median over turns of each turn's longest stall (ms)",
            report["gui_median_turn_max_stall_ms"],
        ),
        (
            "window: the same, with CPython's default 5 ms GIL hand-off (ms)",
            report["gui_median_turn_max_stall_ms_gil_5ms"],
        ),
        (
            "window: a turn's start drawn before the model starts, the delay it adds (ms)",
            report["gui_turn_start_draw_ms"],
        ),
        (
            "window: adding a turn after 160, app's column / Qt's layouts and QLabel (ms)",
            " / ".join(map(str, report["add_turn_ms_after_160"])),
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
            "audio-model memory: prefill added per remembered turn (ms, CPU)",
            report["memory_prefill_ms_per_turn"],
        ),
        (
            "spoken answer: key release to first sound, sample question (ms)",
            report["speech"]["first_sound_ms"],
        ),
        (
            "spoken answer: synthesis speed (seconds of speech per second)",
            report["speech"]["synthesis_realtime_factor"],
        ),
        (
            "spoken answer: barge-in to silence, worst of 5 (ms; target <= 50)",
            report["speech"]["barge_in_silence_ms_max"],
        ),
        (
            "spoken answer: decoding while reading aloud / silent (tokens/s ratio)",
            report["speech"]["decode_ratio_spoken_to_silent"],
        ),
        (
            "server backend: request -> first token, raw stream / engine (ms)",
            " / ".join(map(str, report["server"]["first_token_ms"])),
        ),
        (
            "server backend: request -> first 4 words, raw stream / engine (ms)",
            " / ".join(map(str, report["server"]["first_4_words_ms"])),
        ),
        (
            "server backend: decoding throughput, engine / raw stream",
            report["server"]["throughput_ratio"],
        ),
        (
            "server backend: first chunk after the call, text in (ms; recognition included)",
            report["server"]["first_chunk_after_call_ms"],
        ),
    ]
    m = report["machine"]
    header = (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, torch {m['torch']}"
        f" ({m['torch_threads']} threads), Python {m['python']}, {m['device']}"
    )
    e = report["embedded"]
    b, n = e["before"], e["now"]
    embedded_rows = [
        (
            f"spoken questions right, natural voice (piper), of {n['questions']}",
            f"{b['right_piper']} ({b['accuracy_piper']:.0%})",
            f"{n['right_piper']} ({n['accuracy_piper']:.0%})",
        ),
        (
            f"spoken questions right, espeak-ng voice, of {n['questions']}",
            f"{b['right_espeak']} ({b['accuracy_espeak']:.0%})",
            f"{n['right_espeak']} ({n['accuracy_espeak']:.0%})",
        ),
        ("WER, real recordings", f"{b['wer_real']:.1%}", f"{n['wer_real']:.1%}"),
        (
            "WER, dictation, espeak-ng / piper",
            f"{b['wer_dictation_espeak']:.1%} / {b['wer_dictation_piper']:.1%}",
            f"{n['wer_dictation_espeak']:.1%} / {n['wer_dictation_piper']:.1%}",
        ),
        (
            "first answer word after release, sample question (ms)",
            b["first_word_ms"],
            f"{n['first_word_ms']} ({n['first_word_ms'] / b['first_word_ms']:.2f}x)",
        ),
        (
            "first answer word after release, all questions, median / p90 (ms)",
            f"{b['eval_first_word_ms_median']} / {b['eval_first_word_ms_p90']}",
            f"{n['eval_first_word_ms_median']} / {n['eval_first_word_ms_p90']}",
        ),
        (
            "recognition / prefill after release (ms)",
            f"{b['recognition_ms']} / {b['prefill_ms']}",
            f"{n['recognition_ms']} / {n['prefill_ms']}",
        ),
        (
            "answer decoding (tokens/s)",
            b["decode_tokens_per_s"],
            n["decode_tokens_per_s"],
        ),
        ("load, warm cache (s)", b["load_warm_s"], n["load_warm_s"]),
    ]
    if b["load_cold_s"] is not None:  # measured only with --cold
        embedded_rows.append(
            ("load, cold: empty cache (s)", b["load_cold_s"], n["load_cold_s"])
        )
    d = report["dictation"]
    cpu = load("conditions.json")["machine"]["cpu"]
    rows += [
        (
            (
                "dictation: release -> last character typed in another app, median"
                f" (ms; {dictation['machine']['cpu']})"
            ),
            (
                f"{d['release_to_typed_ms']} (transcript {d['release_to_transcript_ms']};"
                f" typing adds {d['typing_extra_ms']}, target <= 500)"
            ),
        ),
        (
            "dictation: first word kept, key pressed 150 ms into the speech",
            (
                f"{d['first_word_kept']['with the pre-roll']} with the pre-roll, "
                f"{d['first_word_kept']['without']} without"
            ),
        ),
        *(
            (f"right answers, {name} (conditions set, {cpu})", f"{accuracy:.0%}")
            for name, accuracy in report["conditions"].items()
        ),
        (
            "misheard questions' wrong answers asked about / false flags on clean",
            (
                f"{report['misheard_flagged'][0]}/{report['misheard_flagged'][1]} / "
                f"{report['clean_false_flags'][0]}/{report['clean_false_flags'][1]}"
            ),
        ),
    ]
    lines = [
        header,
        "",
        (
            "Embedded default, before (Whisper full window + Qwen2.5-Coder-0.5B in"
            " transformers) and now (clip-sized Whisper, preview while talking,"
            " Qwen2.5-Coder-1.5B in llama.cpp), side by side in one run:"
        ),
        "",
        "| measure | before | now |",
        "|---|---|---|",
        *(f"| {name} | {old} | {new} |" for name, old, new in embedded_rows),
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    (RESULTS / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
