"""`IdentityConfig`: where the identity service is, how to authenticate, how hard to try."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .retry import RetryPolicy
from .version import ApiVersion


class IdentityConfig(BaseModel):
    """How to reach and authenticate to the identity service.

    Timeouts, `max_connections` and `max_concurrency` shape the HTTP client built by
    `IdentityClient`; when a pre-built `httpx.AsyncClient` is passed in, its own timeouts and
    limits apply instead and only `max_concurrency` is used from here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(description="service base URL; API paths start below it")
    api_version: ApiVersion = Field(
        default=ApiVersion.UNVERSIONED, description="which form of the API the service speaks"
    )
    client_id: str
    client_secret: SecretStr
    token_url: str | None = Field(default=None, description="set to skip discovery")
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=32, ge=1)
    max_concurrency: int = Field(default=16, ge=1, description="in-flight calls at most")
    max_retries: int = Field(default=5, ge=0, description="resends after the first attempt")
    backoff_base: float = Field(default=0.2, ge=0)
    backoff_cap: float = Field(default=10.0, ge=0)
    max_retry_after: float = Field(
        default=60.0, ge=0, description="longer Retry-After: fail Transient instead of waiting"
    )
    token_renew_margin: float = Field(default=60.0, ge=0)
    token_refusal_hold: float = Field(
        default=0.0, ge=0,
        description="seconds a refused token request is answered from memory (no new request)",
    )

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            base=self.backoff_base,
            cap=self.backoff_cap,
            max_retry_after=self.max_retry_after,
        )

    def build_http(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.read_timeout,
        )
        limits = httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_connections,
        )
        return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
