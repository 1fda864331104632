"""CPU per model call: the scan's OpenAI SDK path against a bare HTTP client, same fake model.

    python bench/bench_model_client.py [--calls 3000] [--concurrency 100]

Why: 1,000 concurrent scans finish within the model's delay plus the CPU all of them need on
the serving core (they advance together on one event loop), so the per-call cost of the model
client bounds the scan p99. Both clients send the vision request the scan sends (encoded once by
``StructuredCall``) to the fake Responses API of ``bench_scan.py`` (instant answers, CPU 1);
this process runs on CPU 0 and measures its own CPU time per call:

- ``openai SDK``: :class:`eco2.domains.scan.providers.openai.StructuredCall`, the production
  path (``AsyncOpenAI`` on its aiohttp transport, plain ``post``, msgspec decoding);
- ``bare aiohttp``: one ``ClientSession.post`` of the same bytes, the floor of any client.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable

import aiohttp
import click
import msgspec
import uvloop

from _support import cpu_reference, stop
from bench_scan import CLIENT_CPU, SERVER_CPU, spawn_model
from eco2.domains.scan.providers import prompts
from eco2.domains.scan.providers.openai import StructuredCall
from eco2.domains.scan.providers.retry import RetryPolicy
from eco2.domains.scan.providers.schemas import vision_schema
from eco2.knowledge import load_knowledge
from eco2.platform.openai_client import make_client

Call = Callable[[], Awaitable[object]]
VISION_INPUT = [
    {
        "role": "user",
        "content": [
            {"type": "input_text", "text": prompts.vision_request(None)},
            {"type": "input_image", "image_url": "https://cdn.bench.test/scan/a.png"},
        ],
    }
]


async def cpu_per_call(call: Call, calls: int, concurrency: int) -> float:
    """Microseconds of this process's CPU per call, ``concurrency`` calls in flight."""
    limit = asyncio.Semaphore(concurrency)

    async def bounded() -> None:
        async with limit:
            await call()

    await asyncio.gather(*(bounded() for _ in range(concurrency * 2)))  # open the pool
    started = time.process_time()
    await asyncio.gather(*(bounded() for _ in range(calls)))
    return (time.process_time() - started) / calls * 1e6


async def measure(model_port: int, calls: int, concurrency: int) -> dict[str, float]:
    base_url = f"http://127.0.0.1:{model_port}/v1"
    kb = load_knowledge()
    client = make_client(api_key="sk-bench", base_url=base_url, timeout=30, max_connections=1000)
    vision = StructuredCall(
        client,
        RetryPolicy(),
        name="waste_classification",
        schema=vision_schema(kb),
        model="bench",
        instructions=prompts.vision_instructions(kb),
    )
    body = msgspec.json.encode({"model": "bench", "input": VISION_INPUT})
    headers = {"authorization": "Bearer sk-bench", "content-type": "application/json"}
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def bare() -> bytes:
            async with session.post(f"{base_url}/responses", data=body, headers=headers) as r:
                return await r.read()

        results = {
            "openai SDK": await cpu_per_call(lambda: vision(VISION_INPUT), calls, concurrency),
            "bare aiohttp": await cpu_per_call(bare, calls, concurrency),
        }
    await client.close()
    return results


@click.command()
@click.option("--calls", default=3000, show_default=True)
@click.option("--concurrency", default=100, show_default=True)
def main(calls: int, concurrency: int) -> None:
    os.sched_setaffinity(0, CLIENT_CPU)
    model, model_port = spawn_model(0.0)  # inherits CPU 1
    os.sched_setaffinity(0, SERVER_CPU)
    try:
        results = uvloop.run(measure(model_port, calls, concurrency))
    finally:
        stop(model, signal.SIGTERM)
    print(f"{calls} model calls, {concurrency} in flight ({cpu_reference()}), CPU per call:")
    for name, micros in results.items():
        print(
            f"  {name:>13}: {micros:6.0f} µs per call "
            f"= {micros / 1000:.2f} s of one core for 1,000 scans' model calls"
        )


if __name__ == "__main__":
    main()
