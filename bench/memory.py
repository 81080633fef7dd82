"""Resident memory of the service processes, from `/proc/<pid>/status` (VmRSS of the process and its
descendants), read after warm-up and at the end of S2 and S8 (issue 18: ≤ 300 MB each, and the end within
1.1 x the size after warm-up: no growth with the log)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bench.cpu import _children_map


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def rss_mb(pids: Mapping[str, int]) -> dict[str, float]:
    """MB of resident memory per service: its process and every live descendant."""
    children = _children_map()
    out = {}
    for name, root in pids.items():
        total, stack = 0, [root]
        while stack:
            pid = stack.pop()
            total += _rss_kib(pid)
            stack.extend(children.get(pid, ()))
        out[name] = total / 1024
    return out
