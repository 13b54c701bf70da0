"""The client's HTTP behaviour against a scripted server on loopback: discovery, tokens,
401 renewal, unreadable answers, connection failures, timeouts, hooks and limits."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from ccoperator.identity import (
    ClientCreate,
    ClientDto,
    IdentityClient,
    IdentityConfig,
    InvalidClientCredentials,
    OutcomeUnknown,
    SecretCreate,
    Transient,
    Unauthorized,
    UnexpectedResponse,
)

from .stubserver import ADMIN_ID, ADMIN_SECRET, Stub, answer, sequence, slow

pytestmark = pytest.mark.timeout(30)

T = "tenant-1"
CLIENTS = f"/api/Tenants/{T}/ClientCredentialClient/"
DISCOVERY = "/identity/.well-known/openid-configuration"
TOKEN = "/identity/connect/token"
DTO = {"ClientId": "c1", "Name": "App", "RoleIds": ["r"], "Enabled": True}
LEAK = "LEAKED-secret-value-0123456789"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_client(
    base_url: str,
    sleeps: Sleeps | None = None,
    *,
    on_call: Callable[[str, str, int | None, float], None] | None = None,
    **overrides: object,
) -> IdentityClient:
    settings: dict[str, object] = {
        "base_url": base_url,
        "client_id": ADMIN_ID,
        "client_secret": ADMIN_SECRET,
        "read_timeout": 1.0,
        "connect_timeout": 1.0,
        "max_retries": 3,
    }
    settings.update(overrides)
    return IdentityClient(
        IdentityConfig.model_validate(settings),
        sleep=sleeps or Sleeps(),
        rand=lambda: 0.0,
        on_call=on_call,
    )


@pytest.fixture
async def api(stub: Stub) -> AsyncIterator[IdentityClient]:
    stub.serve_tokens()
    async with make_client(stub.base_url) as client:
        yield client


# -- discovery and tokens --------------------------------------------------------------------


async def test_discovery_finds_the_token_endpoint(stub: Stub) -> None:
    stub.on("GET", DISCOVERY, answer(200, {"token_endpoint": stub.base_url + "/custom/token"}))
    stub.serve_tokens(path="/custom/token")
    stub.on("GET", CLIENTS + "c1", answer(200, DTO))
    async with make_client(stub.base_url) as api:
        assert api.token_url is None
        await api.get_client(T, "c1")
        await api.get_client(T, "c1")
        assert api.token_url == stub.base_url + "/custom/token"
    assert stub.count("GET", DISCOVERY) == 1
    assert stub.count("POST", "/custom/token") == 1
    form = next(s.body for s in stub.seen if s.path == "/custom/token").decode()
    assert "grant_type=client_credentials" in form and f"client_id={ADMIN_ID}" in form


async def test_a_configured_token_url_skips_discovery(stub: Stub) -> None:
    stub.serve_tokens(path="/elsewhere/token")
    stub.on("GET", CLIENTS + "c1", answer(200, DTO))
    async with make_client(stub.base_url, token_url=stub.base_url + "/elsewhere/token") as api:
        await api.get_client(T, "c1")
        assert api.token_url == stub.base_url + "/elsewhere/token"
    assert stub.count("GET", DISCOVERY) == 0


async def test_failed_discovery_uses_the_default_and_is_tried_again_later(stub: Stub) -> None:
    stub.on("GET", DISCOVERY, answer(503, {"Error": "down"}))
    now = [100.0]
    sleeps = Sleeps()
    config = IdentityConfig(base_url=stub.base_url, client_id=ADMIN_ID, client_secret=ADMIN_SECRET)
    async with IdentityClient(config, clock=lambda: now[0], sleep=sleeps) as api:
        assert await api.discover_token_url() == stub.base_url + TOKEN
        # A 503 is worth asking again, a bounded number of times within the one flight.
        assert stub.count("GET", DISCOVERY) == 3
        assert len(sleeps.waits) == 2
        assert await api.discover_token_url() == stub.base_url + TOKEN
        assert stub.count("GET", DISCOVERY) == 3  # not asked again right away
        now[0] += 61
        stub.on("GET", DISCOVERY, answer(200, {"token_endpoint": stub.base_url + "/found"}))
        assert await api.discover_token_url() == stub.base_url + "/found"
        assert api.token_url == stub.base_url + "/found"
        now[0] += 1000
        assert await api.discover_token_url() == stub.base_url + "/found"
    assert stub.count("GET", DISCOVERY) == 4


async def test_concurrent_callers_share_one_discovery(stub: Stub) -> None:
    # Every pass of a new leader asks for the token URL at once: one request serves them all.
    stub.on("GET", DISCOVERY,
            slow(0.2, answer(200, {"token_endpoint": stub.base_url + "/custom/token"})))
    stub.serve_tokens(path="/custom/token")
    stub.on("GET", CLIENTS + "c1", answer(200, DTO))
    async with make_client(stub.base_url) as api:
        urls = await asyncio.gather(*(api.discover_token_url() for _ in range(30)))
        await asyncio.gather(*(api.get_client(T, "c1") for _ in range(30)))
    assert set(urls) == {stub.base_url + "/custom/token"}
    assert stub.count("GET", DISCOVERY) == 1
    assert stub.count("POST", "/custom/token") == 1


async def test_concurrent_callers_share_a_discovery_that_is_retried(stub: Stub) -> None:
    # The first answer is lost (slower than the read timeout), the second a 503, the third
    # tells: every waiter gets the discovered URL, after three requests in all.
    found = answer(200, {"token_endpoint": stub.base_url + "/custom/token"})
    stub.on("GET", DISCOVERY, sequence(slow(1.5, found), answer(503), found))
    sleeps = Sleeps()
    async with make_client(stub.base_url, sleeps) as api:
        urls = await asyncio.gather(*(api.discover_token_url() for _ in range(10)))
    assert set(urls) == {stub.base_url + "/custom/token"}
    assert stub.count("GET", DISCOVERY) == 3
    assert len(sleeps.waits) == 2


async def test_concurrent_callers_share_a_failed_discovery(stub: Stub) -> None:
    stub.on("GET", DISCOVERY, slow(0.1, answer(500)))
    sleeps = Sleeps()
    async with make_client(stub.base_url, sleeps) as api:
        urls = await asyncio.gather(*(api.discover_token_url() for _ in range(10)))
        assert api.token_url is None  # a failure is not kept for good
    assert set(urls) == {stub.base_url + TOKEN}
    assert stub.count("GET", DISCOVERY) == 3  # one flight: the first try and two retries


async def test_a_discovery_answer_without_an_endpoint_is_not_retried(stub: Stub) -> None:
    stub.on("GET", DISCOVERY, answer(200, {"issuer": "somewhere"}))
    async with make_client(stub.base_url) as api:
        assert await api.discover_token_url() == stub.base_url + TOKEN
        assert await api.discover_token_url() == stub.base_url + TOKEN
    assert stub.count("GET", DISCOVERY) == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_discovery(stub: Stub) -> None:
    stub.on("GET", DISCOVERY,
            slow(0.3, answer(200, {"token_endpoint": stub.base_url + "/custom/token"})))
    async with make_client(stub.base_url) as api:
        first = asyncio.create_task(api.discover_token_url())
        await asyncio.sleep(0.05)
        second = asyncio.create_task(api.discover_token_url())
        await asyncio.sleep(0.05)
        first.cancel()
        assert await second == stub.base_url + "/custom/token"
        assert first.cancelled()
        assert api.token_url == stub.base_url + "/custom/token"
    assert stub.count("GET", DISCOVERY) == 1


async def test_refused_credentials(stub: Stub) -> None:
    stub.on("POST", TOKEN, answer(400, {"error": "invalid_client"}))
    async with make_client(stub.base_url) as api:
        with pytest.raises(InvalidClientCredentials) as caught:
            await api.get_client(T, "c1")
        with pytest.raises(InvalidClientCredentials):
            await api.request_token("someone", LEAK)
    assert "invalid_client" in str(caught.value)
    assert ADMIN_SECRET not in str(caught.value)
    assert stub.count("POST", TOKEN) == 2  # refused credentials are not retried


async def test_a_token_answer_without_a_token_is_unexpected_and_quotes_nothing(stub: Stub) -> None:
    stub.on("POST", TOKEN, answer(200, {"acces_token": LEAK, "expires_in": "soon"}))
    async with make_client(stub.base_url) as api:
        with pytest.raises(UnexpectedResponse) as caught:
            await api.request_token(ADMIN_ID, ADMIN_SECRET)
    assert LEAK not in str(caught.value)


async def test_token_endpoint_failures_are_retried(stub: Stub) -> None:
    issue = answer(200, {"access_token": "t-ok", "expires_in": 60})
    stub.on("POST", TOKEN, sequence(answer(503), answer(429, headers={"Retry-After": "2"}), issue))
    sleeps = Sleeps()
    async with make_client(stub.base_url, sleeps) as api:
        token = await api.request_token(ADMIN_ID, ADMIN_SECRET)
    assert token.access_token.get_secret_value() == "t-ok"
    assert token.expires_in == 60
    assert sleeps.waits == [0.0, 2.0]


# -- 401 ---------------------------------------------------------------------------------------


async def test_a_401_renews_the_token_and_resends_once(stub: Stub, api: IdentityClient) -> None:
    stub.on("GET", CLIENTS + "c1", sequence(answer(401), answer(200, DTO)))
    assert (await api.get_client(T, "c1")).client_id == "c1"
    gets = [s for s in stub.seen if s.path == CLIENTS + "c1"]
    assert [g.headers["Authorization"] for g in gets] == [
        "Bearer stub-token-1",
        "Bearer stub-token-2",
    ]


async def test_a_second_401_is_unauthorized(stub: Stub, api: IdentityClient) -> None:
    stub.on("POST", CLIENTS, answer(401))
    with pytest.raises(Unauthorized) as caught:
        await api.create_client(T, ClientCreate(client_id="c1", name="x"))
    assert caught.value.status == 401
    assert stub.count("POST", CLIENTS) == 2
    assert stub.tokens_issued == 2
    assert "stub-token" not in str(caught.value)


# -- unreadable answers ---------------------------------------------------------------------


async def test_an_unreadable_create_answer_is_an_unknown_outcome_without_the_secret(
    stub: Stub, api: IdentityClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stub.on("POST", CLIENTS, answer(201, {"ClientSecret": LEAK, "SecretId": "one", "Name": 5}))
    with pytest.raises(OutcomeUnknown) as caught:
        await api.create_client(T, ClientCreate(client_id="c1", name="x"))
    text = str(caught.value) + repr(caught.value)
    assert "SecretId" in text and LEAK not in text
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert LEAK not in caplog.text


async def test_add_secret_returns_the_new_secret(stub: Stub, api: IdentityClient) -> None:
    path = f"/api/Tenants/{T}/Clients/c1/Secret/"
    listed = [
        {"Id": 1, "Description": "old", "Value": None},
        {"Id": 2, "Description": "new", "Value": LEAK, "Expiration": None},
    ]
    stub.on("POST", path, answer(201, listed))
    added = await api.add_secret(T, "c1", SecretCreate(description="new"))
    assert added.id == 2 and added.value is not None
    assert added.value.get_secret_value() == LEAK
    stub.on("POST", path, answer(201, [{"Id": 1}, {"Id": 2}]))
    with pytest.raises(OutcomeUnknown):
        await api.add_secret(T, "c1", SecretCreate(description="new"))


async def test_empty_answers_are_tolerated(stub: Stub, api: IdentityClient) -> None:
    stub.on("PUT", CLIENTS + "c1", answer(200))
    stub.on("DELETE", f"/api/Tenants/{T}/Clients/c1/Secret/3", answer(204))
    body = ClientDto(client_id="c1", name="n", role_ids=["r"])
    assert await api.update_client(T, "c1", body) == body
    assert await api.delete_secret(T, "c1", 3) == []


async def test_unreadable_get_answer(stub: Stub, api: IdentityClient) -> None:
    stub.on("GET", CLIENTS + "c1", answer(200, ["not", "an", "object"]))
    with pytest.raises(UnexpectedResponse):
        await api.get_client(T, "c1")


# -- connections and timeouts ------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_transient_and_safe_even_for_create() -> None:
    sleeps = Sleeps()
    async with make_client(f"http://127.0.0.1:{closed_port()}", sleeps) as api:
        with pytest.raises(Transient) as caught:
            await api.get_client(T, "c1")
        assert caught.value.not_processed
        assert len(sleeps.waits) == 2 + 3  # discovery's two retries, then the call's three
        with pytest.raises(Transient) as created:
            await api.create_client(T, ClientCreate(client_id="c1", name="x"))
        assert not isinstance(created.value, OutcomeUnknown)


async def test_read_timeout_retries_a_get_but_not_a_create(stub: Stub) -> None:
    stub.serve_tokens()
    stub.on("GET", CLIENTS + "c1", sequence(slow(2.0, answer(200, DTO)), answer(200, DTO)))
    stub.on("POST", CLIENTS, slow(2.0, answer(201, {})))
    async with make_client(stub.base_url, read_timeout=0.3) as api:
        assert (await api.get_client(T, "c1")).client_id == "c1"
        with pytest.raises(OutcomeUnknown) as caught:
            await api.create_client(T, ClientCreate(client_id="c1", name="x"))
    assert stub.count("GET", CLIENTS + "c1") == 2
    assert stub.count("POST", CLIENTS) == 1
    assert "ReadTimeout" in str(caught.value)


async def test_retry_after_on_a_get(stub: Stub) -> None:
    stub.serve_tokens()
    stub.on(
        "GET",
        CLIENTS + "c1",
        sequence(answer(503, {"Error": "busy"}, {"Retry-After": "4"}), answer(200, DTO)),
    )
    sleeps = Sleeps()
    async with make_client(stub.base_url, sleeps) as api:
        await api.get_client(T, "c1")
    assert sleeps.waits == [4.0]


# -- paths, paging, hooks, limits ----------------------------------------------------------------


async def test_ids_travel_percent_encoded(stub: Stub, api: IdentityClient) -> None:
    with pytest.raises(Exception):  # noqa: B017 - only the request line matters here
        await api.get_client("t/1", "a/b?c")
    sent = [s for s in stub.seen if s.method == "GET" and "Tenants" in s.raw_path]
    assert sent[0].raw_path == "/api/Tenants/t%2F1/ClientCredentialClient/a%2Fb%3Fc"


async def test_list_stops_when_the_server_ignores_skip(stub: Stub, api: IdentityClient) -> None:
    page = [{"ClientId": f"c{i}", "Name": "n"} for i in range(3)]
    stub.on("GET", CLIENTS, answer(200, page))
    listed = await api.list_clients(T, page_size=3)
    assert [c.client_id for c in listed.items] == ["c0", "c1", "c2"]
    assert listed.partial
    assert [s.query["skip"] for s in stub.seen if s.path == CLIENTS] == ["0", "3"]


async def test_a_207_with_a_bare_list_is_data(stub: Stub, api: IdentityClient) -> None:
    stub.on("GET", CLIENTS, answer(207, [DTO]))
    listed = await api.list_clients(T)
    assert listed.partial and listed.ids() == {"c1"}


async def test_on_call_sees_every_exchange(stub: Stub) -> None:
    stub.serve_tokens()
    stub.on("GET", CLIENTS + "c1", answer(200, DTO))
    calls: list[tuple[str, str, int | None, float]] = []

    def hook(method: str, route: str, status: int | None, seconds: float) -> None:
        calls.append((method, route, status, seconds))
        raise RuntimeError("a broken metrics hook must not break calls")

    async with make_client(stub.base_url, on_call=hook) as api:
        await api.get_client(T, "c1")
        with pytest.raises(Exception):  # noqa: B017
            await api.get_client(T, "nope")
    assert [(m, r, s) for m, r, s, _ in calls] == [
        ("GET", "discovery", 404),
        ("POST", "token", 200),
        ("GET", "clients.get", 200),
        ("GET", "clients.get", 404),
    ]
    assert all(seconds >= 0 for *_, seconds in calls)


async def test_max_concurrency_bounds_in_flight_calls(stub: Stub) -> None:
    stub.serve_tokens()
    stub.on("GET", CLIENTS + "c1", slow(0.05, answer(200, DTO)))
    async with make_client(stub.base_url, max_concurrency=3) as api:
        await api.get_client(T, "c1")
        stub.max_in_flight = 0
        await asyncio.gather(*(api.get_client(T, "c1") for _ in range(20)))
    assert stub.max_in_flight == 3


async def test_a_prebuilt_http_client_is_used_and_left_open(stub: Stub) -> None:
    import httpx

    stub.serve_tokens()
    stub.on("GET", CLIENTS + "c1", answer(200, DTO))
    async with httpx.AsyncClient(headers={"X-Test": "yes"}) as http:
        config = IdentityConfig(
            base_url=stub.base_url, client_id=ADMIN_ID, client_secret=ADMIN_SECRET
        )
        async with IdentityClient(config, http=http) as api:
            await api.get_client(T, "c1")
        assert not http.is_closed
    assert stub.seen[-1].headers["X-Test"] == "yes"


def test_config_hides_the_secret() -> None:
    config = IdentityConfig(
        base_url="http://127.0.0.1:1", client_id="a", client_secret=ADMIN_SECRET
    )
    assert ADMIN_SECRET not in repr(config) + str(config) + config.model_dump_json()
