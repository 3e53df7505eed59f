"""The conversation history at 10,000 stored turns against an empty one, side by side in one
run.

    .venv/bin/python -m benchmarks.history [--turns 10000]

* **Search**: a word of a stored question, of an answer, a two-letter fragment (the LIKE
  scan) and a word nowhere, each the median of 20 searches. Target: under 50 ms.
* **Start-up**: what the window adds at start: open the database, find the latest
  conversation, read it and show its turns in a real ``ChatView`` (offscreen), with 10,000
  turns stored and with none. Target: at most 100 ms more.
* **Writing a turn**: the window's thread queues each turn (``add_turn``) while a 4 ms Qt
  timer ticks; the longest ``add_turn`` call and the longest gap between ticks while the
  writer thread puts 200 turns on disk. Target: no stall over 16 ms (one frame).

Writes benchmarks/results/history.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from core.history import HistoryStore, TurnRecord
from desktop_app.history.conversation_history import show_turns
from desktop_app.widgets.chat_view import ChatView

RESULTS = Path(__file__).resolve().parent / "results"
TURNS_PER_CONVERSATION = 20
SUBJECTS = (
    "the capital of France", "the boiling point of water", "a good night's sleep",
    "the speed of light", "the author of Hamlet", "the tallest mountain", "a bread recipe",
    "the largest ocean", "the population of Japan", "a quick stretch at the desk",
)  # fmt: skip


def a_turn(rng: random.Random, n: int) -> TurnRecord:
    subject = rng.choice(SUBJECTS)
    return TurnRecord(
        mode="conversation",
        clip_s=round(rng.uniform(1.0, 6.0), 1),
        heard=f"Tell me about {subject}, question {n}.",
        answer=f"Here is something about {subject}: answer number {n}, kept short.",
        badges=["first chunk 812 ms", "total 1630 ms", "14.2 tok/s"],
    )


def fill(path: Path, turns: int) -> None:
    rng = random.Random(7)
    store = HistoryStore(path)
    conversation = store.new_conversation()
    for n in range(turns):
        if n % TURNS_PER_CONVERSATION == 0:
            conversation = store.new_conversation()
        store.add_turn(conversation, a_turn(rng, n))
    assert store.flush(timeout=600)
    store.close()


def start_up_ms(path: Path, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        chat = ChatView()
        began = time.perf_counter()
        store = HistoryStore(path)
        latest = store.latest()
        if latest is not None:
            show_turns(chat, store.turns(latest.id), lambda clip, rate: None)
        QApplication.processEvents()
        times.append((time.perf_counter() - began) * 1000)
        store.close()
        chat.deleteLater()
        QApplication.processEvents()
    return statistics.median(times)


def search_ms(path: Path) -> dict[str, dict]:
    store = HistoryStore(path)
    queries = {
        "a word of a question": "Hamlet",
        "a word of an answer": "answer number 9876",
        "two letters (LIKE scan)": "Ha",
        "a word nowhere": "zeppelin",
    }
    found = {}
    for name, query in queries.items():
        times, hits = [], 0
        for _ in range(20):
            began = time.perf_counter()
            hits = len(store.search(query))
            times.append((time.perf_counter() - began) * 1000)
        found[name] = {
            "query": query,
            "ms": round(statistics.median(times), 2),
            "hits": hits,
        }
    store.close()
    return found


def write_stall_ms(path: Path, turns: int = 200) -> dict[str, float]:
    app = QApplication.instance()
    store = HistoryStore(path)
    rng = random.Random(11)
    conversation = store.new_conversation()
    ticks: list[int] = []
    clock = QElapsedTimer()
    clock.start()
    timer = QTimer()
    timer.setInterval(4)
    timer.timeout.connect(lambda: ticks.append(clock.elapsed()))
    timer.start()
    calls = []
    for n in range(turns):
        began = time.perf_counter()
        store.add_turn(conversation, a_turn(rng, n))
        calls.append((time.perf_counter() - began) * 1000)
        app.processEvents()
    deadline = time.monotonic() + 60
    while not store.flush(timeout=0.005) and time.monotonic() < deadline:
        app.processEvents()
    timer.stop()
    store.close()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    return {
        "longest_add_turn_ms": round(max(calls), 2),
        "longest_timer_gap_ms": float(max(gaps)) if gaps else 0.0,
        "timer_interval_ms": 4.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=10_000)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="ptt-history-bench-") as folder:
        full, empty = Path(folder) / "full.sqlite3", Path(folder) / "empty.sqlite3"
        began = time.perf_counter()
        fill(full, args.turns)
        fill_s = time.perf_counter() - began
        HistoryStore(empty).close()
        searches = search_ms(full)
        start_full, start_empty = start_up_ms(full), start_up_ms(empty)
        stall = write_stall_ms(full)
        size_mb = full.stat().st_size / 2**20
    report = {
        "stored_turns": args.turns,
        "database_mb": round(size_mb, 1),
        "fill_s": round(fill_s, 1),
        "search": searches,
        "search_target_ms": 50,
        "start_up_ms": {"stored": round(start_full, 1), "empty": round(start_empty, 1)},
        "start_up_added_ms": round(start_full - start_empty, 1),
        "start_up_target_ms": 100,
        "writing": stall,
        "stall_target_ms": 16,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "history.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
