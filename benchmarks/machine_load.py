"""How busy the rest of the machine was during a measurement: the CPU time of every process
outside this one's tree (this process, its children and theirs), in cores, between two
readings. On a shared 2-core machine one foreign busy core cuts llama.cpp's 2-thread decoding
several-fold, so a timing taken then says nothing about what is measured.

    before = Load.reading()
    ...                                  # the measurement
    cores = Load.foreign_cores(before)   # 0.0: nothing else ran
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_HZ = os.sysconf("SC_CLK_TCK")
#: at most this much foreign CPU (in cores) for a measurement to count as quiet
QUIET_CORES = 0.08


def _ours_ticks() -> int:
    table: dict[int, tuple[int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        table[int(name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    ours, grown = {os.getpid()}, True
    while grown:
        grown = False
        for pid, (parent, _) in table.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                grown = True
    return sum(table[pid][1] for pid in ours if pid in table)


def _busy_ticks() -> int:
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:]]
    return sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait


@dataclass(frozen=True)
class Load:
    at: float
    busy: int
    ours: int

    @classmethod
    def reading(cls) -> Load:
        return cls(time.perf_counter(), _busy_ticks(), _ours_ticks())

    @staticmethod
    def foreign_cores(before: Load) -> float:
        """Cores' worth of CPU used outside this process tree since ``before``."""
        after = Load.reading()
        foreign = (after.busy - before.busy) - (after.ours - before.ours)
        return max(0.0, foreign / _HZ / max(after.at - before.at, 1e-3))
