"""Contract: a full run, every path through the client, logs nothing secret.

All log output (root logger at DEBUG, httpx and httpcore included) and every error raised is
searched for each secret value and access token seen on the wire during the run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from ccoperator.identity import (
    ApiVersion,
    ClientCreate,
    ClientDto,
    IdentityClient,
    IdentityError,
    SecretCreate,
)

from .identity_helpers import (
    CLUSTER_SUPPORT,
    TENANT_MEMBER,
    Sim,
    config,
    new_client,
    paths_of,
    role_id,
    with_member,
)


class Run:
    """Collects every secret and token of the run, and every error it raised."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.errors: list[IdentityError] = []

    def keep(self, value: Any) -> None:
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if text:
            self.secrets.add(str(text))

    async def capture(self, request: httpx.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            self.keep(auth.removeprefix("Bearer "))

    async def expect_error(self, call: Awaitable[Any]) -> IdentityError:
        with pytest.raises(IdentityError) as caught:
            await call
        self.errors.append(caught.value)
        return caught.value


async def test_no_secret_or_token_in_any_log_line(
    sim: Sim, form: ApiVersion, tenant: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "ccoperator", "ccoperator.identity", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    run = Run()
    run.keep(sim.admin_client_secret)
    member, support_role = (
        role_id(sim, tenant, TENANT_MEMBER),
        role_id(sim, tenant, CLUSTER_SUPPORT),
    )
    admin = sim.admin

    cfg = config(sim, read_timeout=0.5, api_version=form)
    http = cfg.build_http()
    http.event_hooks = {"request": [run.capture], "response": []}
    async with http, IdentityClient(cfg, http=http) as api:
        # the happy path through every call
        created = await new_client(api, tenant, [member], client_id="log-one")
        run.keep(created.client_secret)
        await api.get_client(tenant, "log-one")
        await api.list_clients(tenant, page_size=2)
        await api.update_client(
            tenant, "log-one", ClientDto(client_id="log-one", name="n", role_ids=[member])
        )
        added = await api.add_secret(tenant, "log-one", SecretCreate(description="second"))
        run.keep(added.value)
        await api.list_secrets(tenant, "log-one")
        await api.get_secret(tenant, "log-one", added.id)
        await api.update_secret(tenant, "log-one", added.id, SecretCreate(description="renamed"))
        run.keep((await api.request_token("log-one", added.value or "")).access_token)
        await api.delete_secret(tenant, "log-one", created.secret_id)

        # errors of every kind
        await run.expect_error(api.get_client(tenant, "missing"))
        await run.expect_error(api.get_client("no-tenant", "missing"))
        await run.expect_error(api.get_secret(tenant, "log-one", 999))
        await run.expect_error(new_client(api, tenant, [member], client_id="log-one"))
        await run.expect_error(new_client(api, tenant, ["bad-role"]))
        await run.expect_error(api.request_token("log-one", created.client_secret))  # deleted
        await run.expect_error(api.request_token("log-one", "a-wrong-secret"))

        # renewal after expiry, faults, unknown outcomes
        admin.expire_tokens()
        await api.get_client(tenant, "log-one")
        admin.add_fault("clients.get", status=503, times=2)
        await api.get_client(tenant, "log-one")
        admin.add_fault("clients.get", status=429, retry_after=0, times=1)
        await api.get_client(tenant, "log-one")
        admin.add_fault("clients.list", partial207=True, times=1)
        await api.list_clients(tenant)
        admin.add_fault("clients.create", drop=True, times=1)
        await run.expect_error(new_client(api, tenant, [member], client_id="log-dropped"))
        admin.add_fault("secrets.add", drop=True, times=1)
        await run.expect_error(api.add_secret(tenant, "log-one", SecretCreate(description="x")))
        admin.add_fault("clients.create", status=500, times=1)
        await run.expect_error(new_client(api, tenant, [member], client_id="log-500"))
        admin.add_fault("clients.get", latency=1.0, times=1)
        await api.get_client(tenant, "log-one")
        admin.add_fault("clients.get", status=401)
        await run.expect_error(api.get_client(tenant, "log-one"))
        admin.clear_faults()

        # a second caller with little rights
        reader = await api.create_client(
            tenant,
            ClientCreate(
                client_id="log-reader", name="r", role_ids=with_member(sim, tenant, [support_role])
            ),
        )
        run.keep(reader.client_secret)
        async with IdentityClient(
            config(sim, "log-reader", reader.client_secret.get_secret_value(), api_version=form),
            http=http,
        ) as support:
            await support.list_clients(tenant)
            await run.expect_error(support.delete_client(tenant, "log-one"))
        await api.delete_client(tenant, "log-one")

    assert len(run.secrets) >= 6
    assert caplog.records, "the run logged nothing at all?"
    assert any(r.name.startswith("httpx") for r in caplog.records)
    assert any(r.name.startswith("httpcore") for r in caplog.records)

    texts = [caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.__dict__))
    for error in run.errors:
        texts.extend([str(error), repr(error), repr(error.__dict__)])
    haystack = "\n".join(texts)
    for secret in run.secrets:
        assert secret not in haystack
        assert quote_plus(secret) not in haystack

    # failure lines carry method, path, status and the server's operation id
    not_found = run.errors[0]
    assert not_found.operation_id
    lines = [
        r
        for r in caplog.records
        if r.name == "ccoperator.identity" and getattr(r, "identity_status", None) == 404
    ]
    line = next(
        r for r in lines if getattr(r, "identity_operation_id", None) == not_found.operation_id
    )
    message = line.getMessage()
    for part in (
        "GET",
        paths_of(form).clients_get(tenant, "missing").path,
        "404",
        not_found.operation_id,
    ):
        assert part in message
    # A missing client is the answer a reconciler (and the tenant check's probe, every period)
    # expects: DEBUG, not a line at INFO per tenant object and period.
    assert line.levelno == logging.DEBUG
