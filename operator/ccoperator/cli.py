"""`ccoperator run | demo | sim`.

`run` flags mirror the CCOPERATOR_* settings one to one (generated from settings.Settings, so
the two cannot drift); a flag wins over the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Any

from pydantic import ValidationError

from .settings import Settings


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    for name, field in Settings.model_fields.items():
        env = f"CCOPERATOR_{name.upper()}"
        default = field.get_default(call_default_factory=True)
        if isinstance(default, Enum):
            default = default.value
        shown = "required" if field.is_required() else f"default: {default!r}"
        parser.add_argument(
            _flag(name),
            dest=name,
            default=None,
            metavar="VALUE",
            # argparse %-formats help text; descriptions may contain "%".
            help=f"{field.description} [env {env}; {shown}]".replace("%", "%%"),
        )


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

    return int(sim_main(list(argv)) or 0)


def _demo(argv: Sequence[str]) -> int:
    from .demo import main as demo_main

    return int(demo_main(list(argv)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccoperator",
        description="Kubernetes operator for ClientCredentialClient resources.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the operator against the current kubeconfig or "
                         "in-cluster service account")
    _add_settings_flags(run)
    sub.add_parser("demo", help="start a local control plane, the identity simulator and the "
                   "operator, apply examples/ and show the result", add_help=False)
    sub.add_parser("sim", help="run the identity simulator (python -m identity_sim)",
                   add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # demo and sim own their flags; hand them the rest of the command line untouched.
    if argv and argv[0] == "sim":
        return _sim(argv[1:])
    if argv and argv[0] == "demo":
        return _demo(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
