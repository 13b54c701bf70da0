"""Load figure for identity_sim: requests/s of GET client and POST create on one core.

    .venv/bin/python tests/bench/bench_sim.py [--seconds 10] [--concurrency 64]

The simulator runs as its own process pinned to CPU 0 (`taskset -c 0`); this script is the
load generator, pinned to CPU 1, with keep-alive aiohttp connections. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "operator"))
from identity_sim.testing import SimProcess

TENANT = "demo-tenant"


async def _drive(
    session: aiohttp.ClientSession,
    seconds: float,
    concurrency: int,
    make: object,
) -> tuple[int, int, float]:
    """(ok, errors, elapsed) of `concurrency` workers issuing requests for `seconds`."""
    ok = errors = 0
    deadline = time.perf_counter() + seconds
    request = make  # callable(session, worker, i) -> awaitable status

    async def worker(index: int) -> None:
        nonlocal ok, errors
        i = 0
        while time.perf_counter() < deadline:
            status = await request(session, index, i)  # type: ignore[operator]
            i += 1
            if status < 300:
                ok += 1
            else:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return ok, errors, time.perf_counter() - start


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def run(
    base_url: str, token: str, seconds: float, concurrency: int, sim: psutil.Process
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    collection = f"{base_url}/api/Tenants/{TENANT}/ClientCredentialClient/"
    role = "6b1d0b52-0000-4000-8000-00000000e3e1"
    connector = aiohttp.TCPConnector(limit=concurrency)
    results: dict[str, float] = {}
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        for n in range(200):
            async with session.post(
                collection, json={"ClientId": f"seed-{n}", "Name": "seed", "RoleIds": [role]}
            ) as resp:
                assert resp.status == 201, resp.status

        async def get(s: aiohttp.ClientSession, worker: int, i: int) -> int:
            async with s.get(f"{collection}seed-{(worker * 7 + i) % 200}") as resp:
                await resp.read()
                return resp.status

        async def create(s: aiohttp.ClientSession, worker: int, i: int) -> int:
            body = {
                "ClientId": f"bench-{time.monotonic_ns()}-{worker}-{i}",
                "Name": "bench",
                "RoleIds": [role],
            }
            async with s.post(collection, json=body) as resp:
                await resp.read()
                return resp.status

        for name, make in (("get", get), ("create", create)):
            await _drive(session, 1.0, concurrency, make)  # warm-up
            cpu_before = _cpu_seconds(sim)
            ok, errors, elapsed = await _drive(session, seconds, concurrency, make)
            cpu = _cpu_seconds(sim) - cpu_before
            results[name] = ok / elapsed
            results[name + "_errors"] = errors
            # requests per CPU-second of the simulator: what one dedicated core would serve,
            # independent of whatever else the machine runs meanwhile
            results[name + "_per_cpu_s"] = ok / cpu if cpu else 0.0
            results[name + "_cpu_share"] = cpu / elapsed
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--state", type=Path, help="run the simulator with --state FILE")
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    if cpus > 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {1})  # the load generator stays off the simulator's core
    with SimProcess(cpus="0", state=args.state) as sim:
        assert sim.pid is not None
        process = psutil.Process(sim.pid)
        # taskset execs python in place, so the pid is the simulator's own
        results = asyncio.run(
            run(sim.base_url, sim.token(), args.seconds, args.concurrency, process)
        )
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.processor() or platform.machine()}, {cpus} CPUs, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    print(
        f"simulator pinned to CPU 0; load: aiohttp, {args.concurrency} keep-alive connections, "
        f"{args.seconds:.0f} s per phase" + (f", --state {args.state}" if args.state else "")
    )
    print(f"load average at the end: {load:.2f}")
    for name in ("get", "create"):
        print(
            f"{name:>6}: {results[name]:6.0f} req/s wall,"
            f" {results[name + '_per_cpu_s']:6.0f} req per simulator CPU-second"
            f" (simulator got {results[name + '_cpu_share']:.0%} of its core;"
            f" errors: {results[name + '_errors']:.0f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
