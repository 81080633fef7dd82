"""What the three consumer services cost while nothing happens (issue 18): a private stack, grading,
sanctions and publish started and left idle 15 s, then their CPU (and PostgreSQL's and Kafka's) over two
20-second spans, from /proc. At S2's rates every millisecond per second of it is charged to the records
(30 ms/s at 150 records/s is 200 µs per record).

`.venv/bin/python -m bench.consumers_idle`
"""

from __future__ import annotations

import os
import time

from bench.consumers import CONSUMERS
from bench.stack import BenchStack


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(span: float = 20.0) -> None:
    bench = BenchStack()
    try:
        bench.start_infra()
        bench.start_services(*CONSUMERS)
        pids = {service: bench.service_pid(service) for service in CONSUMERS}
        infra = [pid for group in bench.infra_pids().values() for pid in group]
        time.sleep(15)
        for _ in range(2):
            before = {s: _cpu_seconds(p) for s, p in pids.items()}
            infra_before = sum(_cpu_seconds(p) for p in infra)
            time.sleep(span)
            used = {s: (_cpu_seconds(p) - before[s]) / span * 1000 for s, p in pids.items()}
            infra_used = (sum(_cpu_seconds(p) for p in infra) - infra_before) / span * 1000
            print(
                ", ".join(f"{s} {ms:.1f}" for s, ms in used.items())
                + f", PostgreSQL + Kafka {infra_used:.1f} ms of CPU per second, idle",
                flush=True,
            )
    finally:
        bench.close()


if __name__ == "__main__":
    main()
