"""SQLite persistence (`--state FILE`): every mutation is written and committed before its
answer is sent, so the state survives a kill -9 of the simulator right after any answer.

Reads happen only at start-up (`load`); requests are served from memory."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .model import Client, Secret, Tenant, Token, format_datetime, parse_datetime

# Columns added after the first schema: a state file written before them gets them (with
# their defaults) when it is opened.
_ADDED_COLUMNS = (
    ("tenants", "options", "TEXT NOT NULL DEFAULT '{}'"),
    ("clients", "access_token_lifetime", "INTEGER NOT NULL DEFAULT 3600"),
    ("clients", "tags", "TEXT NOT NULL DEFAULT '[]'"),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, roles TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS clients (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL, name TEXT NOT NULL, role_ids TEXT NOT NULL,
    enabled INTEGER NOT NULL, next_secret_id INTEGER NOT NULL,
    access_token_lifetime INTEGER NOT NULL DEFAULT 3600, tags TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS secrets (
    client_id TEXT NOT NULL, id INTEGER NOT NULL, description TEXT, expiration TEXT,
    salt BLOB NOT NULL, digest BLOB NOT NULL, type TEXT NOT NULL,
    PRIMARY KEY (client_id, id));
CREATE TABLE IF NOT EXISTS tokens (
    key TEXT PRIMARY KEY, client_id TEXT NOT NULL, role_ids TEXT NOT NULL,
    expires_at REAL NOT NULL);
"""


@dataclass
class Loaded:
    """Everything `load` read, in creation order."""

    tenants: list[Tenant] = field(default_factory=list)
    clients: list[Client] = field(default_factory=list)
    tokens: dict[str, Token] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def _apply_options(tenant: Tenant, options: dict[str, Any]) -> None:
    tenant.api_version = options.get("api_version", tenant.api_version)
    tenant.max_clients = options.get("max_clients", tenant.max_clients)


def _date(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)


class Database:
    """One SQLite file. Statements are grouped by the caller and made durable by `commit`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = sqlite3.connect(self.path, isolation_level="DEFERRED")
        # WAL + NORMAL: a commit is in the OS before the answer goes out, which is what
        # survives a killed process (not a power cut, which a simulator does not need).
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._add_missing_columns()
        self._conn.commit()

    def _add_missing_columns(self) -> None:
        for table, column, kind in _ADDED_COLUMNS:
            info = self._conn.execute(f"PRAGMA table_info({table})")  # fixed names only
            if column not in {row[1] for row in info}:
                self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._conn.close()

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def load(self) -> Loaded:
        out = Loaded()
        conn = self._conn
        for key, value in conn.execute("SELECT key, value FROM meta"):
            out.meta[key] = json.loads(value)
        for tenant_id, roles, options in conn.execute(
            "SELECT id, roles, options FROM tenants ORDER BY seq"
        ):
            tenant = Tenant(tenant_id, json.loads(roles))
            _apply_options(tenant, json.loads(options))
            out.tenants.append(tenant)
        by_id: dict[str, Client] = {}
        for row in conn.execute(
            "SELECT client_id, tenant_id, name, role_ids, enabled, next_secret_id,"
            " access_token_lifetime, tags FROM clients ORDER BY seq"
        ):
            client = Client(row[1], row[0], row[2], json.loads(row[3]), bool(row[4]))
            client.next_secret_id = row[5]
            client.access_token_lifetime = row[6]
            client.tags = json.loads(row[7])
            by_id[client.client_id] = client
            out.clients.append(client)
        for row in conn.execute(
            "SELECT client_id, id, description, expiration, salt, digest, type"
            " FROM secrets ORDER BY client_id, id"
        ):
            owner = by_id.get(row[0])
            if owner is not None:
                owner.secrets[row[1]] = Secret(
                    row[1], row[2], _date(row[3]), bytes(row[4]), bytes(row[5]), row[6]
                )
        for key, client_id, role_ids, expires_at in conn.execute(
            "SELECT key, client_id, role_ids, expires_at FROM tokens"
        ):
            out.tokens[key] = Token(client_id, frozenset(json.loads(role_ids)), expires_at)
        return out

    def wipe(self) -> None:
        for table in ("meta", "tenants", "clients", "secrets", "tokens"):
            self._conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def set_meta(self, key: str, value: Any) -> None:
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def save_tenant(self, tenant: Tenant) -> None:
        self._conn.execute(
            "INSERT INTO tenants (id, roles, options) VALUES (?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET roles = excluded.roles, options = excluded.options",
            (
                tenant.id,
                json.dumps(tenant.roles),
                json.dumps({"api_version": tenant.api_version, "max_clients": tenant.max_clients}),
            ),
        )

    def save_client(self, client: Client) -> None:
        """Upsert the client row; its position in the list order is kept."""
        self._conn.execute(
            "INSERT INTO clients (client_id, tenant_id, name, role_ids, enabled, next_secret_id,"
            " access_token_lifetime, tags)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client_id) DO UPDATE SET"
            " tenant_id = excluded.tenant_id, name = excluded.name,"
            " role_ids = excluded.role_ids, enabled = excluded.enabled,"
            " next_secret_id = excluded.next_secret_id,"
            " access_token_lifetime = excluded.access_token_lifetime, tags = excluded.tags",
            (
                client.client_id,
                client.tenant_id,
                client.name,
                json.dumps(client.role_ids),
                int(client.enabled),
                client.next_secret_id,
                client.access_token_lifetime,
                json.dumps(client.tags),
            ),
        )

    def delete_client(self, client_id: str) -> None:
        self._conn.execute("DELETE FROM clients WHERE client_id = ?", (client_id,))
        self._conn.execute("DELETE FROM secrets WHERE client_id = ?", (client_id,))

    def save_secret(self, client_id: str, secret: Secret) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO secrets"
            " (client_id, id, description, expiration, salt, digest, type)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                client_id,
                secret.id,
                secret.description,
                format_datetime(secret.expiration),
                secret.salt,
                secret.digest,
                secret.type,
            ),
        )

    def delete_secret(self, client_id: str, secret_id: int) -> None:
        self._conn.execute(
            "DELETE FROM secrets WHERE client_id = ? AND id = ?", (client_id, secret_id)
        )

    def save_token(self, key: str, token: Token) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO tokens (key, client_id, role_ids, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (key, token.client_id, json.dumps(sorted(token.role_ids)), token.expires_at),
        )

    def delete_tokens(self, keys: list[str] | None = None) -> None:
        """Delete the given tokens, or all of them."""
        if keys is None:
            self._conn.execute("DELETE FROM tokens")
        else:
            self._conn.executemany("DELETE FROM tokens WHERE key = ?", [(k,) for k in keys])
