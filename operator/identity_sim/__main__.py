"""`python -m identity_sim`: run the simulator until SIGTERM/SIGINT (see --help)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from .app import RunningSimulator, start_server
from .bootstrap import BootstrapDoc, load_bootstrap_file
from .model import ApiError
from .store import DEFAULT_TOKEN_TTL

DEFAULT_PORT = 8085
ADMIN_SECRET_ENV = "IDENTITY_SIM_ADMIN_SECRET"  # noqa: S105 - the name of a variable


def parse_args(
    argv: list[str] | None = None, prog: str = "python -m identity_sim"
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Simulator of the tenant-scoped identity API (docs/identity-simulator.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"0 = a free port (default {DEFAULT_PORT})"
    )
    parser.add_argument("--state", type=Path, help="SQLite file keeping the state across restarts")
    parser.add_argument("--bootstrap", type=Path, help="bootstrap document (YAML or JSON)")
    parser.add_argument(
        "--admin-secret",
        default=os.environ.get(ADMIN_SECRET_ENV) or None,
        help=f"fix the administrator client's secret (env {ADMIN_SECRET_ENV})",
    )
    parser.add_argument("--write-credentials", type=Path, help="write the credentials JSON here")
    parser.add_argument(
        "--ready-file", type=Path, help="write the credentials JSON here once listening"
    )
    parser.add_argument(
        "--token-ttl", type=int, default=DEFAULT_TOKEN_TTL, help="access token lifetime, seconds"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        type=str.lower,
        choices=["debug", "info", "warning", "error"],
        help="debug also logs every request",
    )
    parser.add_argument(
        "--parent-pid", type=int, help="exit when this process is gone (used by test harnesses)"
    )
    return parser.parse_args(argv)


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Readers see either no file or the whole file; mode 0600 (it holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def credentials_document(server: RunningSimulator, args: argparse.Namespace) -> dict[str, Any]:
    doc = server.bootstrap.to_ready(server.base_url)
    doc.update(
        pid=os.getpid(),
        host=server.host,
        port=server.port,
        state=str(args.state) if args.state else None,
    )
    return doc


def announce(server: RunningSimulator) -> None:
    creds = server.bootstrap
    secret = creds.admin_client_secret or "(unknown: restored state; pass --admin-secret)"
    print(f"identity_sim listening on {server.base_url}")
    print(f"token url: {server.token_url}")
    print(f"admin client: {creds.admin_client_id} in tenant {creds.admin_tenant_id}")
    print(f"admin secret: {secret}")
    for client_id, extra in creds.clients.items():
        print(
            f"client: {client_id} in tenant {extra['tenant_id']} secret: {extra['client_secret']}"
        )
    sys.stdout.flush()


async def _watch_parent(pid: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            logging.getLogger("identity_sim").warning("parent %d is gone; stopping", pid)
            stop.set()
            return
        except PermissionError:
            pass
        await asyncio.sleep(0.5)


async def serve(args: argparse.Namespace, bootstrap: BootstrapDoc | None) -> None:
    server = await start_server(
        args.host,
        args.port,
        state_path=args.state,
        bootstrap=bootstrap,
        admin_secret=args.admin_secret,
        token_ttl=args.token_ttl,
        access_log=args.log_level.lower() == "debug",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = None
    if args.parent_pid:
        watcher = asyncio.create_task(_watch_parent(args.parent_pid, stop))
    try:
        announce(server)
        document = credentials_document(server, args)
        if args.write_credentials:
            write_json_atomically(args.write_credentials, document)
        if args.ready_file:
            write_json_atomically(args.ready_file, document)
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.stop()


def main(argv: list[str] | None = None, prog: str = "python -m identity_sim") -> int:
    """`prog`: the name --help shows (`ccoperator sim` when run through the operator's CLI)."""
    args = parse_args(argv, prog)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    bootstrap = None
    if args.bootstrap:
        try:
            bootstrap = load_bootstrap_file(args.bootstrap)
        except (OSError, ApiError) as exc:
            print(f"identity_sim: bad --bootstrap {args.bootstrap}: {exc}", file=sys.stderr)
            return 2
    try:
        asyncio.run(serve(args, bootstrap))
    except OSError as exc:
        print(f"identity_sim: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
