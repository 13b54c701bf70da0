"""`ccoperator run | demo | sim | prune | plan | import`, and `kubectl ccoperator plan|import`.

`run` flags mirror the CCOPERATOR_* settings one to one (generated from settings.Settings, so
the two cannot drift); a flag wins over the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo

from .commands.arguments import (
    IMPORT_DESCRIPTION,
    IMPORT_EXAMPLES,
    PLAN_DESCRIPTION,
    PLAN_EXAMPLES,
    add_import_flags,
    add_plan_flags,
    add_session_flags,
)
from .settings import Metavar, Settings

RUN_DESCRIPTION = """\
Run the operator: reconcile ClientCredentialClient resources (and the tenant objects they
name) against the identity service, keeping each client's credentials in a Secret. Talks to
the cluster of the current kubeconfig, or in a pod to its own with the service account.

Every flag is also an environment variable (CCOPERATOR_<NAME>, shown with each flag); a flag
given here wins over the environment."""

# Clearer names for flags whose setting name is easy to confuse; the setting's own flag keeps
# working (scripts use it). --namespaces (watched) sat one letter from --namespace (own).
_ALIASES: dict[str, str] = {"namespaces": "--watch-namespaces"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _value_type(annotation: Any) -> tuple[Any, list[Any]]:
    """The annotation without `| None` and `Annotated[...]`, and the metadata met on the way."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            metadata += extra
        elif origin in (Union, UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation, metadata


def _metavar(name: str, field: FieldInfo) -> str:
    """The value's name in --help, from its type: a `Metavar` on the type (DURATION, URL,
    PORT, SECONDS) first, else by kind; plain strings are named by the setting's last word."""
    kind, metadata = _value_type(field.annotation)
    marked = [m.name for m in (*field.metadata, *metadata) if isinstance(m, Metavar)]
    if marked:
        return marked[0]
    if kind is Path:
        return "FILE"
    if kind is SecretStr:
        return "SECRET"
    if kind in (int, float):
        return "N"
    word = name.rsplit("_", 1)[-1].upper()
    if get_origin(kind) is list:
        return f"{word.removesuffix('S')},..."
    return word


def _default_text(field: FieldInfo) -> str:
    """The default as a user would write it (10m, off, not set), never a Python repr."""
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None or value == []:
        return "default: not set"
    if isinstance(value, bool):
        return "default: on" if value else "default: off"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, float):
        value = f"{value:g}"
    return f"default: {value}"


def _secret_warning(name: str, kind: Any) -> str:
    if kind is not SecretStr:
        return ""
    safer = [f"the environment (CCOPERATOR_{name.upper()})"]
    if f"{name}_file" in Settings.model_fields:
        safer.insert(0, _flag(f"{name}_file"))
    return (" Given on the command line it is visible to every user of this machine in the "
            f"process list: prefer {' or '.join(safer)}.")


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    for name, field in Settings.model_fields.items():
        kind, _ = _value_type(field.annotation)
        how: dict[str, Any]
        if kind is bool:
            # default=None (not False): an absent flag leaves the environment in charge.
            how = {"action": argparse.BooleanOptionalAction}
        elif isinstance(kind, type) and issubclass(kind, Enum):
            how = {"choices": [member.value for member in kind]}
        else:
            how = {"metavar": _metavar(name, field)}
        text = (f"{field.description}{_secret_warning(name, kind)} "
                f"[env CCOPERATOR_{name.upper()}; {_default_text(field)}]")
        flags = [_flag(name)]
        if name in _ALIASES:
            flags.insert(0, _ALIASES[name])
        # argparse %-formats help text; descriptions may contain "%".
        parser.add_argument(*flags, dest=name, default=None, help=text.replace("%", "%%"),
                            **how)


def load_settings(args: argparse.Namespace) -> Settings:
    given: dict[str, Any] = {
        name: getattr(args, name)
        for name in Settings.model_fields
        if getattr(args, name, None) is not None
    }
    return Settings(**given)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args)
    except ValidationError as exc:
        print(f"ccoperator: invalid settings:\n{_explain(exc)}", file=sys.stderr)
        return 2
    from .app import run  # imported late: kopf import is slow and `--help` should not pay it

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))
    return 0


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "settings"
        hint = f" ({_flag(where)} / CCOPERATOR_{where.upper()})" if where in Settings.model_fields \
            else ""
        lines.append(f"  {where}{hint}: {error['msg']}")
    return "\n".join(lines)


def _sim(argv: Sequence[str]) -> int:
    from identity_sim.__main__ import main as sim_main

    return int(sim_main(list(argv), prog="ccoperator sim") or 0)


def _demo(argv: Sequence[str]) -> int:
    from .demo import main as demo_main

    return int(demo_main(list(argv)))


PRUNE_DESCRIPTION = """\
Delete the clients that a cluster which no longer exists left in a tenant: every client of the
tenant object's tenant whose mark (ccoperator.io/owner=<cluster>/<namespace>/<name>) names
--cluster-name. Shows them first; on a terminal asks before deleting (unless --yes).

Acts as the operator would: the tenant object is read through the current kubeconfig, and its
credentials are loaded as the operator loads them (its credentialsSecretRef, else the
CCOPERATOR_CLIENT_ID/_SECRET of the environment). Keeps the clients a ClientCredentialClient
of the current cluster records or declares, the client it authenticates with, and clients
marked released (deletionPolicy: Orphan) unless --include-released. Refuses when the current
cluster's resources carry that cluster's name (it is not gone) or cannot be listed, unless
--force. Never writes to Kubernetes; with --dry-run, never writes to the identity service.

Exit status: 0 done (or nothing to delete), 1 refused, failed or not confirmed, 2 usage."""

PRUNE_EXAMPLES = """\
examples:
  ccoperator prune --tenant-object cit/platform --cluster-name old-prod --dry-run
  ccoperator prune --tenant-object it/team-a -n team-a --cluster-name old-prod --yes
  ccoperator prune --tenant-object cit/platform --cluster-name old-prod --dry-run -o json"""


def _add_prune_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant-object", required=True, metavar="KIND/NAME",
                        help="the tenant object whose tenant to prune: ClusterIdentityTenant/"
                        "NAME (cit/NAME) or IdentityTenant/NAME (it/NAME, with -n)")
    parser.add_argument("-n", "--namespace", metavar="NAMESPACE",
                        help="the IdentityTenant's namespace (not for a ClusterIdentityTenant)")
    parser.add_argument("--cluster-name", required=True, metavar="NAME",
                        help="the gone cluster's name (its CCOPERATOR_CLUSTER_NAME, or the uid "
                        "of its kube-system namespace when it had none)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what would be deleted; delete nothing")
    parser.add_argument("-y", "--yes", action="store_true",
                        help="do not ask for confirmation on a terminal")
    parser.add_argument("--include-released", action="store_true",
                        help="also delete clients marked released (deletionPolicy: Orphan)")
    parser.add_argument("--force", action="store_true",
                        help="go on when the current cluster's ClientCredentialClients cannot "
                        "be listed, or carry --cluster-name in their owner keys")
    parser.add_argument("-o", "--output", choices=["table", "json"], default="table",
                        help="table (default) or one JSON document on stdout")
    add_session_flags(parser)


def _command_settings(args: argparse.Namespace, command: str) -> Settings | None:
    """The operator's settings from the environment, with --identity-url and
    --operator-namespace over it (None: invalid, said on stderr)."""
    given = {name: value for name, value in (("identity_url", args.identity_url),
                                             ("namespace", args.operator_namespace))
             if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        print(f"ccoperator {command}: invalid settings:\n{_explain(exc)}", file=sys.stderr)
        return None


def _read_only(args: argparse.Namespace, command: str, options: Callable[[], Any],
               run: Callable[[Any, Settings], int]) -> int:
    """Options from the flags (a ValueError is a usage error: exit 2), the settings, then
    the command."""
    try:
        made = options()
    except ValueError as exc:
        print(f"ccoperator {command}: error: {exc}", file=sys.stderr)
        return 2
    settings = _command_settings(args, command)
    return 2 if settings is None else run(made, settings)


def _prune(args: argparse.Namespace) -> int:
    from .commands import prune  # imported late: it loads the Kubernetes and HTTP clients
    from .commands.prune_plan import Options, check_cluster_name, parse_tenant_object

    return _read_only(args, "prune", lambda: Options(
        tenant_object=parse_tenant_object(args.tenant_object, args.namespace),
        cluster_name=check_cluster_name(args.cluster_name), dry_run=args.dry_run,
        yes=args.yes, force=args.force, include_released=args.include_released,
        output=args.output, kubeconfig=args.kubeconfig, context=args.context), prune.main)


def _plan(args: argparse.Namespace) -> int:
    from .commands import plan  # imported late: it loads the Kubernetes and HTTP clients
    from .commands.common import check_cluster_name

    return _read_only(args, "plan", lambda: plan.PlanOptions(
        files=tuple(args.files), prune=args.prune, output=args.output, namespace=args.namespace,
        cluster_name=check_cluster_name(args.cluster_name) if args.cluster_name else None,
        kubeconfig=args.kubeconfig, context=args.context), plan.main)


def _import(args: argparse.Namespace) -> int:
    from .api.clients import ManagementPolicy
    from .commands import importer  # imported late: it loads the Kubernetes and HTTP clients
    from .commands.common import import_target

    def options() -> Any:
        key, namespace = import_target(args.tenant_object, args.namespace)
        return importer.ImportOptions(
            tenant_object=key, namespace=namespace, ids=tuple(args.ids),
            management_policy=ManagementPolicy(args.management_policy), output=args.output,
            kubeconfig=args.kubeconfig, context=args.context)

    return _read_only(args, "import", options, importer.main)


def _add_read_only_commands(sub: Any) -> None:
    plan = sub.add_parser("plan", help="what the operator would do now with the "
                          "ClientCredentialClients of manifests (writes nothing)",
                          description=PLAN_DESCRIPTION, epilog=PLAN_EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    add_plan_flags(plan)
    imported = sub.add_parser("import", help="print ClientCredentialClient manifests for the "
                              "clients a tenant already has (writes nothing)",
                              description=IMPORT_DESCRIPTION, epilog=IMPORT_EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_import_flags(imported)


def build_parser(prog: str = "ccoperator") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Kubernetes operator for ClientCredentialClient resources.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the operator against the current kubeconfig or "
                         "in-cluster service account", description=RUN_DESCRIPTION,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_settings_flags(run)
    sub.add_parser("demo", help="start a local control plane, the identity simulator and the "
                   "operator, apply examples/ and show the result", add_help=False)
    sub.add_parser("sim", help="run the identity simulator (python -m identity_sim)",
                   add_help=False)
    prune = sub.add_parser("prune", help="delete the clients a cluster that no longer exists "
                           "left in a tenant (--dry-run lists them)",
                           description=PRUNE_DESCRIPTION, epilog=PRUNE_EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_prune_flags(prune)
    _add_read_only_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "ccoperator") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # demo and sim own their flags; hand them the rest of the command line untouched.
    if argv and argv[0] == "sim":
        return _sim(argv[1:])
    if argv and argv[0] == "demo":
        return _demo(argv[1:])
    args = build_parser(prog).parse_args(argv)
    commands = {"run": _run, "prune": _prune, "plan": _plan, "import": _import}
    return commands[args.command](args) if args.command in commands else 2


KUBECTL_USAGE = """\
usage: kubectl ccoperator {plan,import} ...

The ccoperator commands that only read, as a kubectl plugin:
  plan     what the operator would do now with the ClientCredentialClients of manifests
  import   print ClientCredentialClient manifests for the clients a tenant already has

kubectl ccoperator plan --help, kubectl ccoperator import --help: their flags."""


def kubectl_plugin(argv: Sequence[str] | None = None) -> int:
    """`kubectl-ccoperator`: kubectl runs it for `kubectl ccoperator ...`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("plan", "import"):
        return main(argv, prog="kubectl ccoperator")
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(KUBECTL_USAGE)
        return 0
    print(f"{KUBECTL_USAGE}\n\nkubectl ccoperator: unknown command {argv[0]!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
