"""`ccoperator prune` without a cluster: the command line, the decisions, the table and the JSON,
the deletion loop, and the fences that keep a dry run from writing (commands/prune.py,
commands/prune_plan.py). The end-to-end runs are tests/e2e/test_prune.py."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from ccoperator.api.marks import Mark
from ccoperator.api.tenants import TenantKey
from ccoperator.cli import main
from ccoperator.commands import prune
from ccoperator.commands.prune_plan import (
    Action,
    Guards,
    Options,
    PruneError,
    Result,
    Row,
    Scope,
    check_cluster_name,
    decide,
    document,
    identity_problem,
    parse_tenant_object,
    plan,
    summary,
    table,
    with_result,
)
from ccoperator.commands.session import write_refusal
from ccoperator.identity import (
    ApiVersion,
    ClientDto,
    ClientNotFound,
    Forbidden,
    IdentityClient,
    IdentityConfig,
    InvalidClientCredentials,
    TenantNotFound,
    Transient,
)
from ccoperator.kube.http import KubeApiError
from ccoperator.settings import Settings
from ccoperator.tenants.marked import MarkedClient
from pydantic import SecretStr

CIT = TenantKey("ClusterIdentityTenant", "", "platform")
SECRET = "s3cr3t-value-never-shown"


def marked(client_id: str, owner: str = "gone/team-a/app", released: bool = False,
           name: str = "app") -> MarkedClient:
    return MarkedClient(client_id, name, Mark(owner, released=released))


# -- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "namespace", "key"), [
    ("cit/platform", None, CIT),
    ("ClusterIdentityTenant/platform", None, CIT),
    ("clusteridentitytenants/platform", None, CIT),
    ("it/team", "team-a", TenantKey("IdentityTenant", "team-a", "team")),
    ("IdentityTenant/team", "team-a", TenantKey("IdentityTenant", "team-a", "team")),
])
def test_tenant_objects_are_named_kind_slash_name(text: str, namespace: str | None,
                                                  key: TenantKey) -> None:
    assert parse_tenant_object(text, namespace) == key


@pytest.mark.parametrize(("text", "namespace", "said"), [
    ("platform", None, "expected KIND/NAME"),
    ("cit/", None, "expected KIND/NAME"),
    ("cit/a/b", None, "expected KIND/NAME"),
    ("tenant/platform", None, "unknown kind 'tenant'"),
    ("cit/Platform_1", None, "not an object name"),
    ("cit/platform", "team-a", "cluster-scoped: drop -n/--namespace"),
    ("it/team", None, "give its namespace with -n/--namespace"),
])
def test_a_wrong_tenant_object_says_what_is_wrong(text: str, namespace: str | None,
                                                   said: str) -> None:
    with pytest.raises(ValueError, match=said.replace("(", r"\(")):
        parse_tenant_object(text, namespace)


def test_cluster_names_are_those_ccoperator_cluster_name_accepts() -> None:
    assert check_cluster_name("old-prod") == "old-prod"
    uid = "0b7d2a5e-6c1f-4a43-9b1e-3f2d6c8a9e10"  # a kube-system uid: the default name
    assert check_cluster_name(uid) == uid
    for bad in ("Old", "a/b", "", "-x"):
        with pytest.raises(ValueError, match="DNS label or a uid"):
            check_cluster_name(bad)


def _run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["prune", *argv])
    return code, capsys.readouterr().err


def test_the_cli_refuses_bad_arguments_with_status_2_before_any_call(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prune, "main", lambda *a, **k: pytest.fail("prune ran"))
    code, err = _run_cli(capsys, "--tenant-object", "it/team", "--cluster-name", "gone")
    assert code == 2 and "IdentityTenant is namespaced" in err
    code, err = _run_cli(capsys, "--tenant-object", "cit/p", "--cluster-name", "a/b")
    assert code == 2 and "--cluster-name 'a/b'" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["prune", "--tenant-object", "cit/p"])  # --cluster-name is required
    assert exit_info.value.code == 2


def test_the_cli_hands_prune_its_options_and_the_settings(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Options, Settings]] = []

    def fake_main(options: Options, settings: Settings) -> int:
        seen.append((options, settings))
        return 0

    monkeypatch.setattr(prune, "main", fake_main)
    monkeypatch.setenv("CCOPERATOR_IDENTITY_URL", "http://from-env")
    monkeypatch.setenv("CCOPERATOR_NAMESPACE", "env-ns")
    assert main(["prune", "--tenant-object", "it/team", "-n", "team-a", "--cluster-name",
                 "gone", "--dry-run", "-o", "json", "--operator-namespace", "ops"]) == 0
    options, settings = seen[0]
    assert options == Options(TenantKey("IdentityTenant", "team-a", "team"), "gone",
                              dry_run=True, output="json")
    assert settings.identity_url == "http://from-env" and settings.namespace == "ops"
    main(["prune", "--tenant-object", "cit/p", "--cluster-name", "gone", "--yes", "--force",
          "--include-released", "--identity-url", "http://flag", "--kubeconfig", "/k",
          "--context", "c"])
    options, settings = seen[1]
    assert (options.yes, options.force, options.include_released, options.dry_run) == (
        True, True, True, False)
    assert (options.kubeconfig, options.context, settings.identity_url) == (
        "/k", "c", "http://flag")


def test_prune_help_names_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["prune", "--help"])
    text = capsys.readouterr().out
    for flag in ("--tenant-object KIND/NAME", "--cluster-name NAME", "--dry-run", "--yes",
                 "--namespace", "--include-released", "--force", "--output", "--kubeconfig",
                 "--context", "--identity-url", "--operator-namespace", "Exit status"):
        assert flag in text, flag


# -- decisions -----------------------------------------------------------------------------


def test_what_is_kept_and_why() -> None:
    guards = Guards(managed={"held": "team-b/held"}, acting=frozenset({"admin"}))
    rows = plan([marked("admin"), marked("free"), marked("held"),
                 marked("kept", released=True)], guards)
    assert [(r.client.client_id, r.action) for r in rows] == [
        ("admin", Action.KEEP), ("free", Action.DELETE), ("held", Action.KEEP),
        ("kept", Action.KEEP)]
    assert "authenticates with" in rows[0].reason
    assert "ClientCredentialClient team-b/held" in rows[2].reason
    assert "--include-released" in rows[3].reason
    everything = Guards(managed={}, acting=frozenset(), include_released=True)
    assert decide(marked("kept", released=True), everything).action is Action.DELETE


# -- output --------------------------------------------------------------------------------


SCOPE = Scope(CIT, "tenant-1", "http://identity", "v1", "gone", dry_run=True)


def _rows() -> list[Row]:
    guards = Guards(managed={"b": "team-b/held"}, acting=frozenset())
    return plan([marked("a", name="billing\x1b[31m"), marked("b", "gone/team-b/held"),
                 marked("c", "gone/team-c/x", released=True), marked("d", "old-uid")], guards)


def test_the_table_shows_ids_names_owners_marks_and_actions() -> None:
    lines = table(_rows()).splitlines()
    assert lines[0].split() == ["CLIENT", "ID", "NAME", "OWNER", "MARK", "ACTION"]
    assert lines[1].split()[:5] == ["a", "billing?[31m", "team-a/app", "owner", "delete"]
    assert "keep: the current cluster manages it" in lines[2]
    assert lines[3].split()[2:4] == ["team-c/x", "released"]
    assert lines[4].split()[2] == "old-uid"  # a mark that is not an owner key: as it is
    # columns line up
    assert len({line.index("OWNER" if i == 0 else line.split()[2])
                for i, line in enumerate(lines[:2])}) == 1


def test_the_json_document_has_every_client_and_the_summary() -> None:
    doc = json.loads(json.dumps(document(SCOPE, _rows())))
    assert doc["tenantObject"] == {"kind": "ClusterIdentityTenant", "namespace": None,
                                   "name": "platform"}
    assert (doc["tenantId"], doc["clusterName"], doc["dryRun"]) == ("tenant-1", "gone", True)
    first = doc["clients"][0]
    assert first == {"clientId": "a", "name": "billing\x1b[31m", "ownerKey": "gone/team-a/app",
                     "owner": "team-a/app", "mark": "owner", "action": "delete",
                     "reason": None, "result": None, "detail": None}
    assert [c["action"] for c in doc["clients"]] == ["delete", "keep", "keep", "delete"]
    assert doc["summary"] == {"delete": 2, "deleted": 0, "skipped": 2, "failed": 0,
                              "notAttempted": 0}


def test_summaries() -> None:
    rows = _rows()
    assert summary(rows, dry_run=True) == ("dry run: would delete 2, skip 2; nothing was "
                                           "deleted")
    done = [with_result(rows[0], Result.DELETED), rows[1], rows[2],
            with_result(rows[3], Result.ALREADY_GONE)]
    assert summary(done, dry_run=False) == "deleted 2 (1 already gone), skipped 2"
    failed = [with_result(rows[0], Result.FAILED, "403"), rows[1], rows[2],
              with_result(rows[3], Result.NOT_ATTEMPTED)]
    assert summary(failed, dry_run=False) == ("deleted 0, skipped 2, failed 1, "
                                              "not attempted 1")


def test_identity_problems_name_the_tenant_object_and_never_a_secret() -> None:
    cases = [(InvalidClientCredentials("POST /identity/connect/token: 400 invalid_client"),
              "refused the credentials of ClusterIdentityTenant platform (client id admin)"),
             (Forbidden("GET /api/...: 403 forbidden"), "lack the rights"),
             (TenantNotFound("GET /api/...: 404"), "tenant tenant-1 does not exist"),
             (Transient("GET /api/...: ConnectError"), "did not answer")]
    for exc, said in cases:
        text = str(identity_problem(exc, CIT, "admin", "http://identity", "tenant-1"))
        assert said in text and SECRET not in text


# -- the deletion loop (a fake identity service) -------------------------------------------


class FakeIdentity:
    api_version = ApiVersion.V1

    def __init__(self, tags: dict[str, list[str]], refuse: frozenset[str] = frozenset()) -> None:
        self.tags = tags
        self.refuse = refuse
        self.deleted: list[str] = []

    async def get_client(self, tenant_id: str, client_id: str) -> ClientDto:
        if client_id not in self.tags:
            raise ClientNotFound("GET: 404 not found")
        return ClientDto(client_id=client_id, name="x", tags=self.tags[client_id])

    async def delete_client(self, tenant_id: str, client_id: str) -> None:
        if client_id in self.refuse:
            raise Forbidden(f"DELETE {client_id}: 403 forbidden")
        self.deleted.append(client_id)
        del self.tags[client_id]


async def test_deletion_reads_the_mark_again_and_takes_404_as_done() -> None:
    guards = Guards(managed={}, acting=frozenset())
    rows = plan([marked("a"), marked("adopted"), marked("gone-already"), marked("released")],
                Guards(managed={}, acting=frozenset(), include_released=True))
    fake = FakeIdentity({"a": ["ccoperator.io/owner=gone/team-a/app"],
                         "adopted": ["ccoperator.io/owner=live/team-a/app"],
                         "released": ["ccoperator.io/released=gone/team-a/app"]})
    out = io.StringIO()
    done = await prune.delete_all(fake, SCOPE, rows, guards, progress=out)  # type: ignore[arg-type]
    assert [r.result for r in done] == [Result.DELETED, Result.MARK_CHANGED,
                                        Result.ALREADY_GONE, Result.MARK_CHANGED]
    assert fake.deleted == ["a"]  # released again: --include-released was not in `guards`
    assert out.getvalue().splitlines()[0] == "a: deleted"


async def test_the_first_failed_deletion_stops_the_rest() -> None:
    guards = Guards(managed={}, acting=frozenset())
    rows = plan([marked("a"), marked("b"), marked("c")], guards)
    tag = ["ccoperator.io/owner=gone/team-a/app"]
    fake = FakeIdentity({"a": tag, "b": tag, "c": tag}, refuse=frozenset({"b"}))
    done = await prune.delete_all(fake, SCOPE, rows, guards, progress=None)  # type: ignore[arg-type]
    assert [r.result for r in done] == [Result.DELETED, Result.FAILED, Result.NOT_ATTEMPTED]
    assert "403" in done[1].detail and fake.deleted == ["a"]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "goes_on"), [("yes\n", True), ("y\n", True), ("\n", False),
                                                 ("no\n", False), ("", False)])
async def test_a_terminal_is_asked_first(answer: str, goes_on: bool) -> None:
    rows = plan([marked("a")], Guards(managed={}, acting=frozenset()))
    err = io.StringIO()
    streams = prune.Streams(out=io.StringIO(), err=err, input=Tty(answer))
    options = Options(CIT, "gone")
    if goes_on:
        await prune.confirm(rows, SCOPE, options, streams)
    else:
        with pytest.raises(PruneError, match="not confirmed: nothing was deleted"):
            await prune.confirm(rows, SCOPE, options, streams)
    assert "Delete these 1 client(s) from tenant tenant-1?" in err.getvalue()


async def test_yes_or_no_terminal_asks_nothing() -> None:
    rows = plan([marked("a")], Guards(managed={}, acting=frozenset()))
    for streams, options in [
            (prune.Streams(io.StringIO(), io.StringIO(), Tty("")), Options(CIT, "g", yes=True)),
            (prune.Streams(io.StringIO(), io.StringIO(), io.StringIO("")), Options(CIT, "g"))]:
        await prune.confirm(rows, SCOPE, options, streams)
        assert isinstance(streams.err, io.StringIO) and streams.err.getvalue() == ""


# -- what the current cluster manages ------------------------------------------------------


class FakeKube:
    def __init__(self, items: list[dict[str, Any]] | KubeApiError) -> None:
        self.items = items

    async def list_objects(self, path: str) -> list[dict[str, Any]]:
        assert path == "/apis/identity.ccoperator.io/v1alpha1/clientcredentialclients"
        if isinstance(self.items, KubeApiError):
            raise self.items
        return self.items


def ccc(namespace: str, name: str, spec: dict[str, Any], status: dict[str, Any]
        ) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}, "spec": spec, "status": status}


async def test_the_current_cluster_keeps_what_its_resources_record_or_declare() -> None:
    kube = FakeKube([
        ccc("a", "recorded", {}, {"clientId": "id-1", "tenantId": "tenant-1",
                                  "ownerKey": "live/a/recorded"}),
        ccc("a", "pending", {"clientId": "id-2"}, {}),
        ccc("b", "other-tenant", {}, {"clientId": "id-3", "tenantId": "tenant-2"}),
        ccc("b", "no-tenant-yet", {}, {"clientId": "id-4"}),
    ])
    err = io.StringIO()
    managed = await prune.managed_here(kube, "tenant-1", Options(CIT, "gone"), err)  # type: ignore[arg-type]
    assert managed == {"id-1": "a/recorded", "id-2": "a/pending", "id-4": "b/no-tenant-yet"}
    assert err.getvalue() == ""


async def test_a_cluster_whose_resources_carry_the_name_is_not_gone() -> None:
    kube = FakeKube([ccc("a", "x", {}, {"clientId": "id-1", "ownerKey": "gone/a/x"})])
    with pytest.raises(PruneError, match="cluster gone is not gone: 1 ClientCredentialClient"):
        await prune.managed_here(kube, "t", Options(CIT, "gone"), io.StringIO())  # type: ignore[arg-type]
    err = io.StringIO()
    managed = await prune.managed_here(kube, "t", Options(CIT, "gone", force=True), err)  # type: ignore[arg-type]
    assert managed == {"id-1": "a/x"} and "going on (--force)" in err.getvalue()


async def test_a_forbidden_list_refuses_unless_forced() -> None:
    forbidden = KubeApiError(403, "Forbidden", method="GET", path="/apis/...")
    with pytest.raises(PruneError, match="forbidden to the kubeconfig's user"):
        await prune.managed_here(FakeKube(forbidden), "t", Options(CIT, "gone"),  # type: ignore[arg-type]
                                 io.StringIO())
    err = io.StringIO()
    assert await prune.managed_here(FakeKube(forbidden), "t",  # type: ignore[arg-type]
                                    Options(CIT, "gone", force=True), err) == {}
    assert "cannot list ClientCredentialClients" in err.getvalue()
    missing = KubeApiError(404, "Not Found", method="GET", path="/apis/...")
    assert await prune.managed_here(FakeKube(missing), "t", Options(CIT, "gone"),  # type: ignore[arg-type]
                                    io.StringIO()) == {}


# -- the fences ----------------------------------------------------------------------------


def _identity(seen: list[str]) -> IdentityClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={
                "token_endpoint": "http://identity/identity/connect/token"})
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600,
                                             "token_type": "Bearer"})
        if request.method == "GET":
            return httpx.Response(404, json={"Error": "Client not found"})
        return httpx.Response(204)

    config = IdentityConfig(base_url="http://identity", client_id="admin",
                            client_secret=SecretStr(SECRET), max_retries=0)
    return IdentityClient(config, http=httpx.AsyncClient(transport=httpx.MockTransport(answer)))


@pytest.mark.parametrize("allow_delete", [False, True])
async def test_the_fence_lets_out_reads_the_token_request_and_deletes_only_when_asked(
        allow_delete: bool) -> None:
    seen: list[str] = []
    identity = _identity(seen)
    identity._http.event_hooks = {"request": [
        prune.fence(identity, "http://identity", allow_delete=allow_delete)]}
    with pytest.raises(ClientNotFound):
        await identity.get_client("t", "c")
    if allow_delete:
        await identity.delete_client("t", "c")
    else:
        with pytest.raises(RuntimeError, match=r"refused to send DELETE .*\(dry run\)"):
            await identity.delete_client("t", "c")
    with pytest.raises(RuntimeError, match="refused to send PUT"):
        await identity.update_client("t", "c", ClientDto(client_id="c"))
    await identity.aclose()
    await identity._http.aclose()
    assert "GET /identity/.well-known/openid-configuration" in seen
    assert "POST /identity/connect/token" in seen
    assert ("DELETE /api/Tenants/t/ClientCredentialClient/c" in seen) is allow_delete
    assert not any(call.startswith("PUT") for call in seen)


async def test_prune_never_writes_to_kubernetes() -> None:
    with pytest.raises(RuntimeError, match="ccoperator prune never writes to Kubernetes"):
        write_refusal("prune", dry_run=False)("POST", "/api/v1/x")


def test_a_missing_kubeconfig_is_exit_1_with_a_message(tmp_path: Path) -> None:
    err = io.StringIO()
    code = prune.main(Options(CIT, "gone", kubeconfig=str(tmp_path / "none")), Settings(),
                      prune.Streams(io.StringIO(), err, io.StringIO()))
    assert code == 1 and err.getvalue().startswith("ccoperator prune: cannot load the kubeconfig")
