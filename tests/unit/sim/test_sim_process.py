"""`python -m identity_sim` as a process: CLI flags, ready file, restart, cleanup."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
from identity_sim.testing import SimProcess

BOOTSTRAP = """
tenants:
  - id: acme
    roles:
      Account Administrator: acme-aa
      Tenant Member: acme-member
admin:
  clientId: acme-admin
clients:
  - tenant: acme
    clientId: reader
    roles: [Cluster Support]
    secret: reader-secret
"""


def test_cli_flags_ready_file_and_credentials(tmp_path: Path) -> None:
    bootstrap = tmp_path / "bootstrap.yaml"
    bootstrap.write_text(BOOTSTRAP)
    creds = tmp_path / "out" / "creds.json"
    with SimProcess(
        bootstrap=bootstrap,
        token_ttl=5,
        workdir=tmp_path / "w",
        extra_args=["--write-credentials", str(creds)],
    ) as proc:
        ready = proc.ready
        assert re.search(
            rf"^identity_sim listening on {re.escape(proc.base_url)}$", proc.log(), re.M
        )
        assert proc.base_url == f"http://127.0.0.1:{proc.port}"
        assert proc.token_url == proc.base_url + "/identity/connect/token"
        assert (proc.admin_client_id, proc.admin_tenant_id) == ("acme-admin", "acme")
        assert proc.admin_client_secret in proc.log()
        assert proc.tenants["acme"]["Account Administrator"] == "acme-aa"
        assert proc.roles["Tenant Member"] == "acme-member"
        assert ready["clients"]["reader"]["client_secret"] == "reader-secret"
        assert json.loads(creds.read_text()) == ready
        assert oct(creds.stat().st_mode & 0o777) == "0o600"
        token = httpx.post(
            proc.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": "reader",
                "client_secret": "reader-secret",
            },
            trust_env=False,
        ).json()
        assert token["expires_in"] == 5
        # reset re-applies the start-up bootstrap file, not the default one
        assert proc.reset()["AdminClientId"] == "acme-admin"
        pid = proc.pid
    assert pid is not None
    assert not _alive(pid)


def test_secrets_kept_off_disk(tmp_path: Path) -> None:
    with SimProcess(workdir=tmp_path / "w", secrets_on_disk=False) as proc:
        assert proc.admin_client_secret and proc.token()
        assert not proc.ready_file.exists()
        proc.restart()  # reads a new ready file, and deletes it too
        assert not proc.ready_file.exists()
        for path in (tmp_path / "w").rglob("*"):
            assert proc.admin_client_secret.encode() not in path.read_bytes(), path


def test_restart_keeps_port_and_state(tmp_path: Path) -> None:
    with SimProcess(state=tmp_path / "s.db", workdir=tmp_path / "w") as proc:
        port, secret = proc.port, proc.admin_client_secret
        headers = {"Authorization": f"Bearer {proc.token()}"}
        url = f"{proc.base_url}/api/Tenants/demo-tenant/ClientCredentialClient/"
        body = {"ClientId": "kept", "Name": "k", "RoleIds": [proc.roles["Tenant Member"]]}
        assert httpx.post(url, json=body, headers=headers, trust_env=False).status_code == 201
        proc.restart()
        assert proc.port == port and proc.admin_client_secret == secret
        assert httpx.get(url + "kept", headers=headers, trust_env=False).status_code == 200
        proc.kill()
        assert not proc.running
        proc.start()
        assert httpx.get(url + "kept", headers=headers, trust_env=False).status_code == 200


def test_restored_state_with_another_admin_secret(tmp_path: Path) -> None:
    state = tmp_path / "s.db"
    with SimProcess(state=state, admin_secret="first", workdir=tmp_path / "a"):
        pass
    with SimProcess(state=state, admin_secret="second", workdir=tmp_path / "b") as proc:
        assert proc.admin_client_secret == "second"
        proc.token()  # the restored administrator was given the new fixed secret


def test_without_state_a_restart_starts_fresh(tmp_path: Path) -> None:
    with SimProcess(workdir=tmp_path / "w") as proc:
        proc.admin.add_fault("clients.get", status=503)
        proc.restart(hard=True)
        assert proc.admin.faults() == []
        proc.token()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
