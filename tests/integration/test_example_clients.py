"""The example clients of clients/ (Python and Java) against the real ingest, run as its own process on a
loopback port, through a loopback relay that loses the first answer: the client must retry with the same
id, get the original receipt (200) and verify it — signature with the published key, hash against the
record it sent — and the exchange must hold the record once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from deploy.processes import free_port
from deploy.stack import Stack
from tests import factories

REPO = Path(__file__).resolve().parents[2]
JAVA = REPO / "clients" / "java"
INSTANCE = 21  # a further ingest process beside whatever else the run starts


class LosesFirstAnswer:
    """A TCP relay to ingest that, when armed, lets the next request through and drops its answer (the
    connection is reset once ingest has answered): what a department sees when a network link breaks."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.armed = False
        self.dropped = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        forward = asyncio.create_task(_pipe(reader, up_writer))
        if self.armed:
            self.armed = False
            await up_reader.read(1)  # ingest answered: the record is committed
            writer.transport.abort()
            up_writer.close()
            forward.cancel()
            self.dropped += 1
            return
        await asyncio.gather(forward, _pipe(up_reader, writer), return_exceptions=True)


async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
    finally:
        target.close()


@pytest.fixture(scope="module")
def ingest_process(stack: Stack, tokens: dict[str, str]) -> Iterator[int]:
    port = free_port()
    stack.start_service("ingest", instance=INSTANCE, port=port)
    try:
        stack.wait_ready("ingest", instance=INSTANCE, port=port)
        yield port
    finally:
        stack.stop_service("ingest", instance=INSTANCE)


@pytest.fixture(scope="module")
async def relay(ingest_process: int) -> AsyncIterator[tuple[LosesFirstAnswer, str]]:
    lossy = LosesFirstAnswer(ingest_process)
    server = await asyncio.start_server(lossy.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield lossy, f"http://127.0.0.1:{port}"
    server.close()


@pytest.fixture(scope="module")
def java_client() -> list[str]:
    """Build the Java client with Maven: offline from the local repository once it has been fetched."""
    build = subprocess.run(["mvn", "-q", "-B", "-o", "package"], cwd=JAVA, capture_output=True, text=True, check=False)
    if build.returncode != 0:  # first build on this machine: fetch the plugins and Jackson once
        build = subprocess.run(["mvn", "-q", "-B", "package"], cwd=JAVA, capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    classpath = f"{JAVA / 'target' / 'exchange-client.jar'}:{JAVA / 'target' / 'lib'}/*"
    return ["java", "-cp", classpath, "cn.credit.exchange.client.ExchangeClient"]


def _command(language: str, request: pytest.FixtureRequest) -> list[str]:
    if language == "java":
        command: list[str] = request.getfixturevalue("java_client")
        return command
    return [sys.executable, str(REPO / "clients" / "python" / "exchange_client.py")]


@pytest.mark.parametrize("language", ["python", "java"])
async def test_example_client_retries_a_lost_answer_and_verifies_the_original_receipt(
    language: str,
    request: pytest.FixtureRequest,
    relay: tuple[LosesFirstAnswer, str],
    ingest_process: int,
    tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    lossy, url = relay
    record = factories.penalty()
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    lossy.armed = True
    process = await asyncio.create_subprocess_exec(
        *_command(language, request),
        "--url",
        url,
        "--token",
        tokens["TOKEN_AMR"],
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, out.decode() + err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert lossy.dropped >= 1
    # The first answer was lost after ingest committed: the retry got the original receipt, not a new record.
    assert (result["status"], result["attempts"]) == (200, 2)
    assert result["signature_valid"] is True
    assert result["hash_matches"] is True
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest_process}") as ingest:
        held = await ingest.get(
            f"/v1/records/{record['id']}", headers={"Authorization": f"Bearer {tokens['TOKEN_AMR']}"}
        )
    assert held.status_code == 200, held.text
    assert held.json()["receipt"] == result["receipt"]
    assert held.json()["record"] == record
