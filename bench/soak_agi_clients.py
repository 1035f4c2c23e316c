"""Misbehaving FastAGI clients, run inside a node for the soak: `silent` ones connect and send
nothing, `slow` ones send an AGI environment one byte at a time. astguard must keep deciding
the real calls meanwhile (its read timeout and connection limit, docs/operations.md FastAGI).

    python -m bench.soak_agi_clients HOST:PORT SILENT SLOW SECONDS
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

_ENV = b"agi_network: yes\nagi_network_script: outbound\nagi_request: agi://127.0.0.1/outbound\n"


async def _silent(host: str, port: int, until: float) -> bool:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(), max(0.1, until - time.monotonic()))
        return True
    finally:
        writer.close()


async def _slow(host: str, port: int, until: float, gap: float = 0.5) -> bool:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    try:
        for byte in _ENV:
            if time.monotonic() > until:
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(gap)
        return True
    except (ConnectionError, OSError):
        return True  # closed by astguard: what it should do
    finally:
        writer.close()


async def main(address: str, silent: int, slow: int, seconds: float) -> None:
    host, _, port = address.rpartition(":")
    until = time.monotonic() + seconds
    results = await asyncio.gather(*[_silent(host, int(port), until) for _ in range(silent)],
                                   *[_slow(host, int(port), until) for _ in range(slow)])
    print(f"{sum(results)}/{len(results)} clients connected", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
