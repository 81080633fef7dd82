"""Job sources for the load generator: what each scenario and baseline sends.

The bare-FastAPI baselines send byte for byte the same requests as the scenarios they bound; only what
is expected back differs (202 for everything).
"""

from __future__ import annotations

import random
from urllib.parse import quote

from bench.httpclient import get, post
from bench.load import Job, Source
from bench.records import DEPARTMENTS, RecordMix, batch_body


class IngestSource:
    """Single-record POST /v1/records with the bench mix (5 % invalid, 10 % duplicate retries)."""

    def __init__(self, mix: RecordMix, tokens: dict[str, str], host: str, *, bare: bool = False) -> None:
        self.mix = mix
        self._tokens = tokens
        self._host = host
        self._bare = bare

    def next(self) -> Job:
        item = self.mix.next()
        data = post("/v1/records", self._host, item.body, self._tokens[f"TOKEN_{item.department}"])
        return Job(data, "bare" if self._bare else item.expect, 1, item.event_id)


class BatchSource:
    """POST /v1/records:batch of `size` records of one department, departments in turn."""

    def __init__(
        self,
        seed: int,
        tag: str,
        tokens: dict[str, str],
        host: str,
        size: int,
        *,
        bare: bool = False,
        clean: bool = False,
        subjects: list[tuple[str, str, str]] | None = None,
        repeat_subject: float = 0.3,
    ) -> None:
        invalid, duplicate = (0.0, 0.0) if clean else (0.05, 0.10)
        self._mixes = [
            (
                dept,
                RecordMix(
                    seed=seed + n,
                    tag=f"{tag}{n}",
                    departments=(dept,),
                    invalid=invalid,
                    duplicate=duplicate,
                    subjects=subjects,
                    repeat_subject=repeat_subject,
                ),
            )
            for n, dept in enumerate(DEPARTMENTS)
        ]
        self._tokens = tokens
        self._host = host
        self._size = size
        self._bare = bare
        self._turn = 0

    def next(self) -> Job:
        dept, mix = self._mixes[self._turn % len(self._mixes)]
        self._turn += 1
        items = [mix.next() for _ in range(self._size)]
        data = post("/v1/records:batch", self._host, batch_body(items), self._tokens[f"TOKEN_{dept}"])
        if self._bare:
            return Job(data, "bare", len(items))
        return Job(data, "batch", len(items), items=tuple(i.expect for i in items))


class QuerySource:
    """GET /v1/disclosures?q=<code or name> (public, no token). `terms` may grow while it runs."""

    def __init__(self, terms: list[str], host: str, *, seed: int, bare: bool = False) -> None:
        self._terms = terms
        self._rng = random.Random(seed)
        self._host = host
        self._bare = bare

    def next(self) -> Job:
        term = self._rng.choice(self._terms) if self._terms else "重庆"
        return Job(get(f"/v1/disclosures?q={quote(term)}", self._host), "bare" if self._bare else "query")


class PageSource:
    """GET of portal HTML pages (S4b): `paths` are ready-made (home with a search, subject, record)."""

    def __init__(self, paths: list[str], host: str, *, seed: int) -> None:
        self._paths = paths or ["/"]
        self._rng = random.Random(seed)
        self._host = host

    def next(self) -> Job:
        return Job(get(self._rng.choice(self._paths), self._host), "query")


class Prefilled:
    """Generate `n` jobs before the clock starts, so the window measures sending, not generating."""

    def __init__(self, source: Source, n: int) -> None:
        self._source = source
        self._jobs = [job for _ in range(n) if (job := source.next()) is not None]
        self._next = 0

    def next(self) -> Job | None:
        if self._next < len(self._jobs):
            job = self._jobs[self._next]
            self._next += 1
            return job
        return self._source.next()


class Limited:
    """At most `n` jobs, then None (the closed loop ends when every client has drawn None)."""

    def __init__(self, source: Source, n: int) -> None:
        self._source = source
        self._left = n

    def next(self) -> Job | None:
        if self._left <= 0:
            return None
        self._left -= 1
        return self._source.next()
