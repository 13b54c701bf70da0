"""The command lines of `ccoperator plan` and `ccoperator import` (also `kubectl ccoperator
plan|import`): flags and help. Light to import: `--help` loads neither the Kubernetes nor the
HTTP clients (cli.py turns the flags into options, importing the commands late)."""

from __future__ import annotations

import argparse

from ..api.clients import ManagementPolicy

_SETTINGS = """\
It acts as the operator would, through the current kubeconfig and with the operator's
settings from the environment: CCOPERATOR_IDENTITY_URL, CCOPERATOR_CLIENT_ID/_SECRET (for tenant
objects without credentialsSecretRef), CCOPERATOR_NAMESPACE (where ClusterIdentityTenant
credentials live)"""
_RBAC = """The README ("Bringing existing clients in") lists the RBAC it needs."""
_PLAN_SETTINGS = f"""{_SETTINGS}, CCOPERATOR_SECRET_LIFETIME and
CCOPERATOR_ROTATION_GRACE_PERIOD (lifetimes, rotation dates).
{_RBAC}"""
_IMPORT_SETTINGS = f"{_SETTINGS}. {_RBAC}"

PLAN_DESCRIPTION = f"""\
Show, for each ClientCredentialClient in the manifests, what the operator would do now against
the live cluster and identity service: create, update (each field, old -> new), adopt,
reclaim, rotate (due, or asked by the identity.ccoperator.io/rotate annotation), observe
(managementPolicy: Observe: read only; its drift), none, or refused (the reason and message
the operator would report, or the API server's at apply). The manifests go through a
server-side dry run first, so schema, CEL and admission-policy rejections show as at apply.
Decided by the operator's own gate, policy and decision code (Controller.preview).

Writes nothing: no identity write (only reads and the token request go out), no Kubernetes
write (only dry runs, dryRun=All, which store nothing).

The cluster name must be the operator's: --cluster-name / CCOPERATOR_CLUSTER_NAME as the
operator runs with it, else (as the operator) the uid of the kube-system namespace. It names
every owner key and derived client id; a different one plans other clients.

{_PLAN_SETTINGS}

Exit status (as terraform plan -detailed-exitcode): 0 nothing would change (every resource
none or observe); 2 something differs from what the manifests ask: a change the operator
would make, a deletion (--prune), or a refusal (the manifest would not work as written);
1 the plan itself failed (unreadable file, cluster or identity service unreachable, ...)."""

PLAN_EXAMPLES = """\
examples:
  ccoperator plan -f clients.yaml
  kustomize build overlays/prod | ccoperator plan -f -
  ccoperator plan -f manifests/ --prune -o json
  kubectl ccoperator plan -f clients.yaml"""

IMPORT_DESCRIPTION = f"""\
Print a ClientCredentialClient manifest for every client of the tenant object's tenant that
no resource of this cluster manages or declares, that neither the tenant object nor the
operator acts with, and that carries no ccoperator mark (or for the --id clients only): its
clientId, name, roleIds and enabled as they are, adopt: true and managementPolicy Observe
(default: read only, status.drift shows what differs) or Manage. metadata.name is derived
from the client's name (a DNS label, unique in the namespace). Roles outside the tenant
object's allowedRoleIds are kept, and named on stderr: the operator refuses those manifests
until the roles are allowed or removed.

Writes nothing: reads the tenant object and its credentials, lists the resources of the
cluster and the tenant's clients (on unversioned tenants each candidate's secrets, where a mark
is), and prints.

{_IMPORT_SETTINGS}

Exit status: 0 printed (perhaps nothing), 1 failed, 2 usage."""

IMPORT_EXAMPLES = """\
examples:
  ccoperator import --tenant-object cit/platform -n team-a > team-a-clients.yaml
  ccoperator import --tenant-object it/team-a -n team-a --id reporting --id billing
  ccoperator import --tenant-object cit/platform -n team-a | kubectl apply -f -
  kubectl ccoperator import --tenant-object cit/platform -n team-a -o json"""


def add_session_flags(parser: argparse.ArgumentParser) -> None:
    """The kubeconfig, and the settings a read-only command (prune too) may be given here."""
    parser.add_argument("--kubeconfig", metavar="FILE",
                        help="kubeconfig file [default: $KUBECONFIG, else ~/.kube/config]")
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to use")
    parser.add_argument("--identity-url", metavar="URL",
                        help="identity service for a tenant object without spec.identityUrl "
                        "[env CCOPERATOR_IDENTITY_URL]")
    parser.add_argument("--operator-namespace", metavar="NAMESPACE",
                        help="the operator's namespace, where a ClusterIdentityTenant's "
                        "credentials Secret lives [env CCOPERATOR_NAMESPACE]")


def add_plan_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--filename", dest="files", action="append", required=True,
                        metavar="PATH", help="a manifest file, a folder of them (*.yaml, *.yml, "
                        "*.json; not sub-folders) or - for stdin; multi-document YAML and "
                        "kind: List; other kinds are skipped with a note. Repeatable")
    parser.add_argument("--prune", action="store_true",
                        help="also list the resources of the manifests' namespaces that the "
                        "manifests no longer contain: delete or orphan (their deletionPolicy)")
    parser.add_argument("-o", "--output", choices=["table", "json"], default="table",
                        help="table (default) or one JSON document on stdout")
    parser.add_argument("-n", "--namespace", metavar="NAMESPACE",
                        help="namespace of manifests that name none [default: the kubeconfig "
                        "context's, else default]")
    parser.add_argument("--cluster-name", metavar="NAME",
                        help="the operator's cluster name [env CCOPERATOR_CLUSTER_NAME; "
                        "default: the uid of kube-system, as the operator]")
    add_session_flags(parser)


def add_import_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant-object", required=True, metavar="KIND/NAME",
                        help="the tenant object whose tenant's clients to bring in: "
                        "ClusterIdentityTenant/NAME (cit/NAME) or IdentityTenant/NAME (it/NAME)")
    parser.add_argument("-n", "--namespace", metavar="NAMESPACE",
                        help="namespace of the manifests: required for a ClusterIdentityTenant; "
                        "an IdentityTenant's own namespace (where it is looked up)")
    parser.add_argument("--id", dest="ids", action="append", default=[], metavar="ID",
                        help="only this client (repeatable); an unknown, managed, reserved or "
                        "marked id is an error")
    parser.add_argument("--management-policy", choices=[p.value for p in ManagementPolicy],
                        default=ManagementPolicy.OBSERVE.value,
                        help="spec.managementPolicy of the manifests [default: Observe]")
    parser.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml",
                        help="multi-document YAML (default) or one JSON List")
    add_session_flags(parser)
