"""Small process helpers shared by the local Kafka, PostgreSQL and service launchers.

A launcher writes a pid file per process under the stack's state folder, so `make down` (a separate
process) can find and stop everything `make up` started, and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from services.common.net import port_is_free


class StackError(RuntimeError):
    """A set-up step failed; the message is one line an operator can act on."""


def free_port() -> int:
    """A port the kernel says is free now (for test stacks that must not collide with `make up`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_free_port(port: int, what: str) -> None:
    if not port_is_free(port):
        raise StackError(
            f"port {port} for {what} is already in use on 127.0.0.1: stop what holds it "
            f"(`ss -ltnp 'sport = :{port}'`) or choose another port"
        )


# Children started by this process, so they are reaped through their Popen (no zombie, no ResourceWarning).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def pid_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (a zombie waiting for its reaper does not count: it
    holds no socket and no session)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # it exited meanwhile
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def spawn(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a detached process (own session, so Ctrl-C in `make run` is handled by us, not it)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(proc.pid))
    return proc


def stop_pid_file(pid_file: Path, *, timeout: float = 30.0, sig: int = signal.SIGTERM) -> bool:
    """Stop the process named by a pid file: SIGTERM, wait, then SIGKILL. True if one was running."""
    pid = read_pid(pid_file)
    if pid is None:
        return False
    was_running = pid_alive(pid)
    if was_running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.05)
        # The rest of its process group too (ingest's worker processes hold the listening socket): the
        # port is free and the database sessions are gone only once every member has exited.
        deadline = time.monotonic() + timeout
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    _CHILDREN.pop(pid, None)
    pid_file.unlink(missing_ok=True)
    return was_running


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, log_file: Path | None = None) -> None:
    """Poll `check` until it is true; on timeout say what did not come up and where its log is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    where = f"; see {log_file}" if log_file else ""
    tail = ""
    if log_file and log_file.exists():
        lines = log_file.read_text(errors="replace").strip().splitlines()[-3:]
        tail = " | last log lines: " + " / ".join(line.strip()[:200] for line in lines)
    raise StackError(f"{what} did not become ready within {timeout:.0f}s{where}{tail}")
