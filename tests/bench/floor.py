"""The floor: the least a controller must do, run under the same harness as the operator.

`run`: watch the resources of the given namespaces and, for each new one, make exactly the
calls a create needs and nothing else: the identity POST (with the same bound on identity
calls in flight as the operator, default 8), the Secret create, one status merge patch that
says Ready. No GET before the create, no finalizer, no events, no intermediate status, no
retries, no crash safety: a lower bound, not a competitor.

`verify`: what a restart must read at least: the resources and the Secrets of each namespace
(one list each), and one paged list per tenant; prints a JSON summary.

    python -m tests.bench.floor run --kubeconfig K --identity-url U --client-id C \
        --namespaces a,b [--concurrency 8]          # secret in env FLOOR_CLIENT_SECRET
    python -m tests.bench.floor verify --kubeconfig K --identity-url U --client-id C \
        --namespaces a,b --tenants t1,t2

aiohttp (as kopf uses) and the standard library: the cheapest client stack at hand here
(httpx's async pool costs several times more CPU per request, see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import ssl
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml

GROUP, VERSION, PLURAL = "identity.ccoperator.io", "v1alpha1", "clientcredentialclients"
CCC_PATH = f"/apis/{GROUP}/{VERSION}"
MANAGED_BY = "app.kubernetes.io/managed-by"
FLOOR_MANAGED_BY = "ccoperator-floor"
LIFETIME = timedelta(hours=2160)
# ccoperator.api.clients.CLIENT_ID_NAMESPACE: ids derived from the uid as the operator derives
# them (not imported, so that the floor's start-up carries no pydantic, no kopf).
CLIENT_ID_NAMESPACE = uuid.UUID("0b7a3c38-5f1e-4d7e-9a5c-6f1d2a8e9b01")


def derived_client_id(uid: str) -> str:
    return str(uuid.uuid5(CLIENT_ID_NAMESPACE, uid))


def http_params(kubeconfig: Path) -> dict[str, Any]:
    """httpx client arguments for a kubeconfig (client certificate or bearer token)."""
    doc = yaml.safe_load(kubeconfig.read_text())
    ctx_name = doc["current-context"]
    ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in doc["users"] if u["name"] == ctx["user"])
    ctx_ssl = ssl.create_default_context(cafile=cluster["certificate-authority"])
    headers = {"Accept": "application/json"}
    if "client-certificate" in user:
        ctx_ssl.load_cert_chain(user["client-certificate"], user["client-key"])
    if "token" in user:
        headers["Authorization"] = f"Bearer {user['token']}"
    return {"base_url": cluster["server"], "verify": ctx_ssl, "headers": headers}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class _Http:
    """A minimal aiohttp client: base URL, default headers, JSON in and out."""

    def __init__(self, base_url: str, headers: dict[str, str], ssl_ctx: ssl.SSLContext | None,
                 limit: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_read=400),
            connector=aiohttp.TCPConnector(limit=limit, ssl=ssl_ctx if ssl_ctx else False))

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base_url + path

    async def call(self, method: str, path: str, *, expect: int | None = None,
                   **kwargs: Any) -> Any:
        async with self.session.request(method, self.url(path), **kwargs) as r:
            body = await r.read()
            if r.status >= 400 or (expect is not None and r.status != expect):
                raise RuntimeError(f"{method} {path}: {r.status} {body[:200]!r}")
            return json.loads(body) if body else None

    async def close(self) -> None:
        await self.session.close()


class Floor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.identity_url = args.identity_url.rstrip("/")
        self.token_url = args.token_url or f"{self.identity_url}/identity/connect/token"
        self.secret = os.environ["FLOOR_CLIENT_SECRET"]
        params = http_params(Path(args.kubeconfig))
        self.kube = _Http(params["base_url"], params["headers"], params["verify"], 32)
        self.identity = _Http(self.identity_url, {}, None, max(args.concurrency, 10))
        self.sem = asyncio.Semaphore(args.concurrency)
        self.token = ""
        self.started: set[str] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.done = 0
        self.failed = 0

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get_token(self) -> None:
        answer = await self.identity.call("POST", self.token_url, data={
            "grant_type": "client_credentials", "client_id": self.args.client_id,
            "client_secret": self.secret})
        self.token = answer["access_token"]

    # -- run -------------------------------------------------------------------------------

    async def run(self) -> None:
        await self.get_token()
        watches = [asyncio.create_task(self.watch(ns)) for ns in self.args.namespaces]
        if self.args.ready_file:
            Path(self.args.ready_file).write_text("ready\n")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for task in watches:
            task.cancel()
        print(json.dumps({"done": self.done, "failed": self.failed}), flush=True)

    async def watch(self, namespace: str) -> None:
        path = f"{CCC_PATH}/namespaces/{namespace}/{PLURAL}"
        while True:
            try:
                listing = await self.kube.call("GET", path)
                for obj in listing.get("items") or []:
                    self.consider(obj)
                query = {"watch": "1", "resourceVersion": listing["metadata"]["resourceVersion"],
                         "timeoutSeconds": "300"}
                async with self.kube.session.get(self.kube.url(path), params=query) as stream:
                    async for line in stream.content:
                        if line.strip():
                            event = json.loads(line)
                            if event.get("type") in ("ADDED", "MODIFIED"):
                                self.consider(event["object"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                print(f"watch {namespace}: {exc!r}", file=sys.stderr, flush=True)
                await asyncio.sleep(0.5)

    def consider(self, obj: dict[str, Any]) -> None:
        uid = obj["metadata"]["uid"]
        if (obj.get("status") or {}).get("clientId") or uid in self.started:
            return
        self.started.add(uid)
        task = asyncio.create_task(self.create(obj))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def create(self, obj: dict[str, Any]) -> None:
        meta, spec = obj["metadata"], obj["spec"]
        ns, name, uid = meta["namespace"], meta["name"], meta["uid"]
        tenant = spec["tenantRef"]["name"]  # bench tenant objects are named after the tenant
        client_id = derived_client_id(uid)
        try:
            async with self.sem:
                created = await self.identity.call(
                    "POST", f"/api/Tenants/{tenant}/ClientCredentialClient/",
                    headers=self.auth(), expect=201,
                    json={"ClientId": client_id, "Name": spec.get("name") or name,
                          "RoleIds": spec["roleIds"], "Enabled": True,
                          "SecretDescription": f"floor {ns}/{name}",
                          "SecretExpirationDate": (datetime.now(UTC) + LIFETIME).isoformat()})
            secret_name = f"{name}-credentials"
            await self.kube.call("POST", f"/api/v1/namespaces/{ns}/secrets", json={
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {
                    "name": secret_name, "labels": {MANAGED_BY: FLOOR_MANAGED_BY},
                    "ownerReferences": [{"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                                         "name": name, "uid": uid, "controller": True,
                                         "blockOwnerDeletion": True}]},
                "data": {"clientId": b64(client_id),
                         "clientSecret": b64(created["ClientSecret"]),
                         "tenantId": b64(tenant), "tokenUrl": b64(self.token_url),
                         "identityUrl": b64(self.identity_url)},
            })
            now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
            generation = meta.get("generation", 1)
            status = {
                "clientId": client_id, "tenantId": tenant, "secretName": secret_name,
                "observedGeneration": generation,
                "conditions": [{"type": "Ready", "status": "True", "reason": "ClientReady",
                                "message": "floor", "lastTransitionTime": now,
                                "observedGeneration": generation}]}
            await self.kube.call(
                "PATCH", f"{CCC_PATH}/namespaces/{ns}/{PLURAL}/{name}/status",
                headers={"Content-Type": "application/merge-patch+json"},
                data=json.dumps({"status": status}))
            self.done += 1
        except Exception as exc:
            self.failed += 1
            print(f"{ns}/{name}: {exc!r}", file=sys.stderr, flush=True)

    # -- verify ----------------------------------------------------------------------------

    async def verify(self) -> dict[str, Any]:
        started = time.monotonic()
        await self.get_token()
        k8s_lists = 0
        objects: list[dict[str, Any]] = []
        secrets: set[tuple[str, str]] = set()
        for ns in self.args.namespaces:
            for path, params, sink in (
                (f"{CCC_PATH}/namespaces/{ns}/{PLURAL}", {}, "objects"),
                (f"/api/v1/namespaces/{ns}/secrets",
                 {"labelSelector": f"{MANAGED_BY}=ccoperator"}, "secrets"),
            ):
                cont = ""
                while True:
                    query = {**params, "limit": "500", **({"continue": cont} if cont else {})}
                    body = await self.kube.call("GET", path, params=query)
                    k8s_lists += 1
                    for item in body.get("items") or []:
                        if sink == "objects":
                            objects.append(item)
                        else:
                            secrets.add((ns, item["metadata"]["name"]))
                    cont = (body.get("metadata") or {}).get("continue") or ""
                    if not cont:
                        break
        identity_lists = 0
        remote: set[str] = set()
        for tenant in self.args.tenants:
            skip = 0
            while True:
                page = await self.identity.call(
                    "GET", f"/api/Tenants/{tenant}/ClientCredentialClient/",
                    params={"skip": str(skip), "count": "100"}, headers=self.auth())
                identity_lists += 1
                page = page.get("Data", page) if isinstance(page, dict) else page
                remote.update(c["ClientId"] for c in page)
                if len(page) < 100:
                    break
                skip += len(page)
        verified = sum(
            1 for o in objects
            if (o.get("status") or {}).get("clientId") in remote
            and (o["metadata"]["namespace"], (o.get("status") or {}).get("secretName", ""))
            in secrets)
        return {"objects": len(objects), "verified": verified, "k8s_lists": k8s_lists,
                "identity_lists": identity_lists,
                "seconds_in_process": time.monotonic() - started}

    async def aclose(self) -> None:
        await self.kube.close()
        await self.identity.close()


async def amain(args: argparse.Namespace) -> int:
    floor = Floor(args)
    try:
        if args.command == "run":
            await floor.run()
        else:
            print(json.dumps(await floor.verify()), flush=True)
    finally:
        await floor.aclose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "verify"])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--identity-url", required=True)
    parser.add_argument("--token-url")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--namespaces", required=True, type=lambda s: s.split(","))
    parser.add_argument("--tenants", default="", type=lambda s: [t for t in s.split(",") if t])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--ready-file")
    return asyncio.run(amain(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
