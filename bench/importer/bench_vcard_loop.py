"""Benchmark: how long a big vCard upload blocks the importer's event loop (issue #20).

Builds a file of tiny cards (20 MiB by default), then reads it the way the importer does —
decode and count in a worker thread, then ten cards per `asyncio.to_thread` step — while a
probe task measures how late the loop wakes it (the longest stall is what a health check or
an in-progress ack would wait). For comparison it also times the whole-file `parse_file` the
importer used to run on the loop. Parse only, no database. Not collected by pytest.

    .venv/bin/python bench/importer/bench_vcard_loop.py --mib 20 --steps 2000
"""

from __future__ import annotations

import argparse
import asyncio
import time

from kith_common.vcards import count_cards
from kith_importer.vcard.parse import CardStream, decode, parse_file


def tiny_cards(mib: int) -> bytes:
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee{0};Ann;;;\r\nEND:VCARD\r\n"
    out: list[str] = []
    size = 0
    i = 0
    while size < mib * 1024 * 1024:
        text = card.format(i)
        out.append(text)
        size += len(text)
        i += 1
    return "".join(out).encode()


async def probe(stalls: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        stalls.append(time.perf_counter() - before - 0.01)


async def streamed(data: bytes, steps: int) -> tuple[float, int, float]:
    stalls: list[float] = []
    stop = asyncio.Event()
    task = asyncio.create_task(probe(stalls, stop))
    started = time.perf_counter()
    text, _ = await asyncio.to_thread(decode, data)
    total = await asyncio.to_thread(count_cards, data)
    stream = CardStream(text)
    read = 0
    for _ in range(steps):
        items = await asyncio.to_thread(stream.take, 10)
        if not items:
            break
        read += sum(i.block for i in items)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return max(stalls), total, elapsed / max(read, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2000, help="ten-card steps to read")
    parser.add_argument("--whole", action="store_true", help="also time the old parse_file")
    args = parser.parse_args()
    data = tiny_cards(args.mib)
    worst, total, per_card = asyncio.run(streamed(data, args.steps))
    print(f"file: {len(data) / 2**20:.1f} MiB, {total} cards")
    print(f"streamed: longest loop stall {worst * 1000:.1f} ms, {per_card * 1e6:.0f} µs/card")
    if args.whole:
        started = time.perf_counter()
        parsed = parse_file(data)
        blocked = time.perf_counter() - started
        print(f"whole-file parse on the loop: {blocked:.1f} s for {len(parsed.cards)} cards")


if __name__ == "__main__":
    main()
