"""A 500 answers cleanly and keeps the connection (issue 9: after any 500 the next request on the same keep-alive
connection was reset, because Starlette re-raised after answering and uvicorn then closed the transport)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
import uvicorn

from frontdoor.embedded_nats import free_port
from frontdoor.services import Services
from frontdoor.web import create_web_app
from tests.integration.conftest import auth


@contextlib.asynccontextmanager
async def served(services: Services) -> AsyncIterator[int]:
    app = create_web_app(services)

    @app.get("/test-only/boom")
    async def boom() -> None:
        raise RuntimeError("a bug nobody caught")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> tuple[int, bytes]:
    token = auth("call_handler")["Authorization"]
    writer.write(f"GET {path} HTTP/1.1\r\nHost: frontdoor\r\nAuthorization: {token}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    return status, await asyncio.wait_for(reader.readexactly(length), 10)


async def test_a_500_is_a_problem_and_the_connection_serves_the_next_request(services: Services) -> None:
    async with served(services) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            status, body = await _exchange(reader, writer, "/test-only/boom")
            assert status == 500 and orjson.loads(body)["type"].endswith("/internal")
            status, body = await _exchange(reader, writer, "/teams")  # the same connection
            assert status == 200 and orjson.loads(body)["teams"]
        finally:
            writer.close()
