"""HTTP to the Kubernetes API server: one aiohttp session on the event loop, JSON bodies.

The official `kubernetes` client blocks, so its calls had to run in worker threads, and every
answer went through its model layer; together they took 18-34% of the operator's CPU
(docs/PERFORMANCE.md). Here a call is one request on kopf's own event loop and the answer is
plain JSON. The official package still *loads* the connection settings (in-cluster config or
a kubeconfig), so the cluster is found and authenticated the way it always was.

The proxy is the one the official client would use: the kubeconfig's `proxy-url`, else (recent
clients) HTTPS_PROXY from the environment, unless `no_proxy` covers the host. SOCKS proxies
and `assert_hostname` (which no loader sets) are not supported.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
from kubernetes.client.rest import should_bypass_proxies
from yarl import URL

if TYPE_CHECKING:
    from kubernetes.client import Configuration

JSON = "application/json"
# Objects reduced to their metadata (PartialObjectMetadata): names without data.
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
MERGE_PATCH = "application/merge-patch+json"


class KubeApiError(Exception):
    """A Kubernetes API call failed: an error status, or no answer at all (`status` None).

    The message names the call (method, path) and the status, never a request or response
    body: a Secret's body is its data. `reason` is the HTTP reason phrase or, without a
    usable answer, what went wrong (connection refused, timed out, not JSON).
    """

    def __init__(self, status: int | None, reason: str, *, method: str = "",
                 path: str = "") -> None:
        self.status = status
        self.reason = reason
        self.method = method
        self.path = path
        outcome = f"{status} {reason}" if status is not None else reason
        call = f"{method} {path}: " if method else ""
        super().__init__(f"{call}{outcome}")


class KubeRejected(KubeApiError):
    """An error answer whose Status the caller asked for (`explain=True`): its `kind_reason`
    (Invalid, Forbidden, AlreadyExists, ...) and `message` (which field, which rule or policy),
    kept out of str(). Only for calls whose answer cannot hold a Secret's data."""

    def __init__(self, status: int, reason: str, *, method: str, path: str,
                 kind_reason: str, message: str) -> None:
        super().__init__(status, reason, method=method, path=path)
        self.kind_reason = kind_reason
        self.message = message


@dataclass(frozen=True)
class HttpLimits:
    # No timeout on the whole call: in a burst thousands of passes queue for the pooled
    # connections, and a total timeout counted that wait (with 9,000 new resources, calls
    # failed after 30 s in the queue and their resources backed off for minutes). Instead the
    # connection (TCP and TLS) and each read of the answer are bounded: a dead or stuck API
    # server still fails a call, a busy pool does not.
    read_timeout: float = 30.0
    connect_timeout: float = 10.0
    # Bursts reconcile hundreds of objects at once; more connections than this only queue on
    # the API server's side (and its default --max-requests-inflight is 400 for everyone).
    max_connections: int = 32


Authorization = Callable[[], str | None]


class KubeHttp:
    """Requests to one API server. Create it on the event loop that will use it."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str,
                 authorization: Authorization, *, server_hostname: str | None = None,
                 proxy: str | None = None,
                 stream_session: aiohttp.ClientSession | None = None) -> None:
        self._session = session
        # Watches hold their connection for minutes, one per collection and namespace: on
        # the requests' bounded pool, 32 of them would leave no connection for any request
        # (everything waits, forever). They get a pool of their own, unbounded: one
        # connection per stream is what they need.
        self._stream_session = stream_session or session
        # Called right before every write is sent (leader election's fence: it raises when
        # this process may not write). Reads always go out: standbys keep caches warm.
        self.write_guard: Callable[[], None] | None = None
        # Called with (method, path) right before every write, after `write_guard`: a
        # command that must not write (ccoperator plan) lets out only dry-run requests.
        self.write_filter: Callable[[str, str], None] | None = None
        self._base_url = base_url.rstrip("/")
        self._authorization = authorization
        self._server_hostname = server_hostname
        self._proxy = proxy

    async def request_json(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                           *, content_type: str = JSON, accept: str | None = None,
                           explain: bool = False) -> dict[str, Any]:
        """Send, and return the answer's JSON object; raise KubeApiError unless 2xx.
        `accept`: another representation (metadata only: `METADATA_LIST`). `explain`: an
        error answer's Status is read into a `KubeRejected` (never for a Secret)."""
        raw = await self._exchange(method, path, body, content_type, accept, explain=explain)
        try:
            answer = json.loads(raw)
        except ValueError:
            # `from None`: a JSONDecodeError carries the whole document, i.e. the body.
            raise KubeApiError(None, "answer is not JSON", method=method, path=path) from None
        if not isinstance(answer, dict):
            raise KubeApiError(None, "answer is not a JSON object", method=method, path=path)
        return answer

    async def request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                      *, content_type: str = JSON) -> None:
        """Send, and ignore the answer's body (not even parsed); raise KubeApiError unless 2xx."""
        await self._exchange(method, path, body, content_type)

    async def close(self) -> None:
        await self._session.close()
        if self._stream_session is not self._session:
            await self._stream_session.close()

    async def stream(self, path: str, *, read_timeout: float,
                     accept: str | None = None) -> AsyncIterator[bytes]:
        """GET a streaming answer (a watch) and yield it line by line (without the newline).

        `read_timeout` bounds the silence between two chunks, not the stream: a watch stays
        open for minutes. Lines are split here, not by aiohttp's readline, whose limit
        (128 KiB) a large object in one watch event would exceed.
        """
        headers = self._headers(accept)
        url = URL(self._base_url + path, encoded=True)
        timeout = aiohttp.ClientTimeout(total=None,
                                        sock_connect=self._stream_session.timeout.sock_connect,
                                        sock_read=read_timeout)
        try:
            async with self._stream_session.get(
                url, headers=headers, allow_redirects=False, timeout=timeout,
                server_hostname=self._server_hostname, proxy=self._proxy,
            ) as response:
                if not 200 <= response.status < 300:
                    await response.read()
                    raise KubeApiError(response.status,
                                       response.reason or _phrase(response.status),
                                       method="GET", path=path)
                pending = b""
                async for chunk in response.content.iter_any():
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield line
                if pending.strip():
                    yield pending
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KubeApiError(None, _describe(exc), method="GET", path=path) from None

    def _headers(self, accept: str | None) -> dict[str, str]:
        """Authorization (computed again for every request: tokens rotate) and, to ask for
        another representation than the session's JSON, Accept."""
        headers = {}
        authorization = self._authorization()
        if authorization:
            headers["Authorization"] = authorization
        if accept:
            headers["Accept"] = accept
        return headers

    async def _exchange(self, method: str, path: str, body: Mapping[str, Any] | None,
                        content_type: str, accept: str | None = None, *,
                        explain: bool = False) -> bytes:
        headers = self._headers(accept)
        data = None
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = content_type
        # Path segments are quoted by the caller (`segment`); encoded=True spares yarl a
        # second parse and re-quote of every URL.
        url = URL(self._base_url + path, encoded=True)
        if method != "GET" and self.write_guard is not None:
            self.write_guard()  # last check, nothing awaited between it and the send
        if method != "GET" and self.write_filter is not None:
            self.write_filter(method, path)
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, allow_redirects=False,
                server_hostname=self._server_hostname, proxy=self._proxy,
            ) as response:
                # Read even error answers: an unread body makes aiohttp drop the connection
                # instead of returning it to the pool (a 404 on GET is an everyday answer).
                raw = await response.read()
                status, reason = response.status, response.reason
        except (aiohttp.ClientError, TimeoutError) as exc:
            # `from None`: aiohttp's errors can carry the request's headers (the token).
            raise KubeApiError(None, _describe(exc), method=method, path=path) from None
        if not 200 <= status < 300:
            if explain:
                raise _rejected(status, reason or _phrase(status), method, path, raw)
            raise KubeApiError(status, reason or _phrase(status), method=method, path=path)
        return raw


def _rejected(status: int, reason: str, method: str, path: str, raw: bytes) -> KubeRejected:
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    answer = answer if isinstance(answer, dict) else {}
    return KubeRejected(status, reason, method=method, path=path,
                        kind_reason=str(answer.get("reason") or reason),
                        message=str(answer.get("message") or reason))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectionError):
        # Host, port and the OS error: what an operator needs to see, and nothing secret.
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unknown status"


def segment(value: str) -> str:
    """One path segment, percent-quoted (names are DNS labels; this is only a guard)."""
    return quote(value, safe="")


def ssl_context(configuration: Configuration) -> ssl.SSLContext:
    """TLS as the official client sets it up: CA, verification, client certificate."""
    context = ssl.create_default_context(
        cafile=configuration.ssl_ca_cert,
        # Newer clients can hold the CA in memory instead of a file.
        cadata=getattr(configuration, "ca_cert_data", None),
    )
    if not configuration.verify_ssl:
        # insecure-skip-tls-verify: still TLS, and still a client certificate if there is one.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


def authorization(configuration: Configuration) -> Authorization:
    """The Authorization header, computed again for every request.

    `get_api_key_with_prefix` runs the configuration's `refresh_api_key_hook` first: that is
    how a rotated in-cluster (projected) token is re-read from its file, and how an exec or
    OIDC kubeconfig credential is renewed. Current clients keep the token under
    "BearerToken", older ones under "authorization" (the alias).
    """

    def header() -> str | None:
        token = configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
        if token:
            return str(token)
        if configuration.username or configuration.password:
            return str(configuration.get_basic_auth_token())
        return None

    return header


def connect(configuration: Configuration, limits: HttpLimits | None = None) -> KubeHttp:
    """A KubeHttp for the API server `configuration` describes. Call on the event loop."""
    limits = limits or HttpLimits()
    context = ssl_context(configuration)
    session = _session(aiohttp.TCPConnector(limit=limits.max_connections, ssl=context), limits)
    streams = _session(aiohttp.TCPConnector(limit=0, ssl=context), limits)
    return KubeHttp(session, configuration.host, authorization(configuration),
                    server_hostname=getattr(configuration, "tls_server_name", None) or None,
                    proxy=proxy_for(configuration), stream_session=streams)


def _session(connector: aiohttp.TCPConnector, limits: HttpLimits) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=connector,
        # sock_connect, not connect: waiting for a free pooled connection is not a connect
        # failure (see HttpLimits).
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=limits.connect_timeout,
                                      sock_read=limits.read_timeout),
        headers={"Accept": JSON, "User-Agent": "ccoperator"},
        # The API server sets no cookies; the dummy jar skips cookie handling per request.
        cookie_jar=aiohttp.DummyCookieJar(),
        # The configuration has already read the environment (proxy_for); no .netrc either.
        trust_env=False,
    )


def proxy_for(configuration: Configuration) -> str | None:
    """The proxy to the API server, decided once, as the official client's REST layer does.

    Also pins it in `configuration`: recent clients re-read the proxy environment variables
    (`getproxies()`) whenever `host` is assigned, and the refresh hook assigns `host` on
    every call, which cost a quarter of a request's CPU here. The environment does not
    change under a running operator, so the pinned value is the same one.
    """
    configuration.proxy = configuration.proxy  # the setter ends the per-call re-read
    proxy = configuration.proxy or None
    no_proxy = getattr(configuration, "no_proxy", None) or ""
    if proxy and should_bypass_proxies(configuration.host, no_proxy=no_proxy):
        return None
    return proxy
