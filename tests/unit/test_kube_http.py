"""kube_http's pure parts: the error's message, the Authorization header, the TLS context.
(The calls themselves are tested against the real API server: tests/integration.)"""

from __future__ import annotations

import ssl

import pytest
from ccoperator.kube.http import KubeApiError, authorization, proxy_for, segment, ssl_context
from kubernetes.client import Configuration


def test_error_message_names_the_call_and_the_status() -> None:
    exc = KubeApiError(409, "Conflict", method="PUT", path="/api/v1/namespaces/a/secrets/b")
    assert str(exc) == "PUT /api/v1/namespaces/a/secrets/b: 409 Conflict"
    assert (exc.status, exc.reason) == (409, "Conflict")
    without_answer = KubeApiError(None, "timed out", method="GET", path="/x")
    assert str(without_answer) == "GET /x: timed out"
    assert without_answer.status is None


def test_bearer_token_under_either_key_and_asked_for_every_request() -> None:
    configuration = Configuration()
    header = authorization(configuration)
    assert header() is None

    configuration.api_key["BearerToken"] = "Bearer current-layout"
    assert header() == "Bearer current-layout"

    older = Configuration()
    older.api_key["authorization"] = "Bearer older-layout"
    assert authorization(older)() == "Bearer older-layout"

    calls = []

    def rotate(c: Configuration) -> None:
        calls.append(1)
        c.api_key["BearerToken"] = f"Bearer token-{len(calls)}"

    configuration.refresh_api_key_hook = rotate
    assert [header(), header()] == ["Bearer token-1", "Bearer token-2"]


def test_basic_auth_when_there_is_no_token() -> None:
    configuration = Configuration(username="user", password="pw")
    assert authorization(configuration)() == "Basic dXNlcjpwdw=="


def test_skip_tls_verify_still_uses_tls_without_checks() -> None:
    configuration = Configuration()
    configuration.verify_ssl = False
    context = ssl_context(configuration)
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    configuration.verify_ssl = True
    verifying = ssl_context(configuration)
    assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname


def test_segment_quotes_what_would_change_the_path() -> None:
    assert segment("app-credentials") == "app-credentials"
    assert segment("a/b c") == "a%2Fb%20c"


def test_proxy_as_the_official_client_decides_it() -> None:
    configuration = Configuration(host="https://10.0.0.1:443", proxy="http://proxy:3128",
                                  no_proxy="")
    assert proxy_for(configuration) == "http://proxy:3128"
    configuration.no_proxy = "10.0.0.0/8,.svc"
    assert proxy_for(configuration) is None
    assert proxy_for(Configuration(host="https://10.0.0.1:443", proxy="", no_proxy="")) is None


def test_an_environment_proxy_is_pinned_once_decided(monkeypatch: pytest.MonkeyPatch) -> None:
    # The refresh hook assigns `host` on every call; the proxy must not be re-read each time.
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    configuration = Configuration(host="https://10.0.0.1:443")
    assert proxy_for(configuration) == "http://env-proxy:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://other:3128")
    configuration.host = "https://10.0.0.1:443"
    assert configuration.proxy == "http://env-proxy:3128"


async def test_waiting_for_a_pooled_connection_is_not_a_timeout() -> None:
    """Many calls queued on few connections: each answer is prompt once sent, but the last
    call waits longer than the read timeout for its turn, and must still succeed."""
    import asyncio

    from aiohttp import web
    from ccoperator.kube.http import HttpLimits, connect

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(0.4)
        return web.json_response({"kind": "Status"})

    app = web.Application()
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    configuration = Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    http = connect(configuration, HttpLimits(read_timeout=1.0, connect_timeout=1.0,
                                             max_connections=1))
    try:
        started = asyncio.get_running_loop().time()
        answers = await asyncio.gather(*(http.request_json("GET", "/slow") for _ in range(5)))
        waited = asyncio.get_running_loop().time() - started
    finally:
        await http.close()
        await runner.cleanup()
    assert answers == [{"kind": "Status"}] * 5
    assert waited >= 1.6  # served one at a time: the last one queued well past 1 s
