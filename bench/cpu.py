"""CPU time of processes from `/proc/<pid>/stat` (utime + stime), for CPU µs per event.

A process group is a root pid plus its descendants: PostgreSQL's postmaster and its backends, a
service process (and any child it may start). Time of children that exited during the window is
counted through the parent's cutime + cstime once they are reaped (the postmaster reaps its backends).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def group_seconds(root: int, children: Mapping[int, list[int]] | None = None) -> float:
    """CPU seconds used so far by `root`, its live descendants and its reaped children."""
    children = children if children is not None else _children_map()
    total = 0
    stack = [root]
    first = True
    while stack:
        pid = stack.pop()
        fields = _stat_fields(pid)
        if fields is None:
            continue
        # fields[11..14] = utime, stime, cutime, cstime (stat fields 14-17)
        total += int(fields[11]) + int(fields[12])
        if first:
            total += int(fields[13]) + int(fields[14])
            first = False
        stack.extend(children.get(pid, ()))
    return total / TICKS


def machine_seconds() -> float:
    """Busy CPU seconds of the whole machine (all CPUs, from /proc/stat), to see what else was running."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS


def self_seconds() -> float:
    times = os.times()
    return times.user + times.system


class CpuMeter:
    """CPU seconds of named process groups (and of this process, as `loadgen`) over a window."""

    def __init__(self, groups: Mapping[str, list[int]]) -> None:
        self._groups = {name: list(pids) for name, pids in groups.items()}
        self._start: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        children = _children_map()
        values = {name: sum(group_seconds(pid, children) for pid in pids) for name, pids in self._groups.items()}
        values["loadgen"] = self_seconds()
        values["machine"] = machine_seconds()
        return values

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since `start()`; `others` is what the rest of the machine used meanwhile."""
        end = self._sample()
        used = {name: max(end[name] - self._start.get(name, end[name]), 0.0) for name in end}
        used["others"] = max(used.pop("machine") - sum(used.values()), 0.0)
        return used
