"""Keep the generated copies of `crds/` and `examples/` identical to their one source.

Kustomize, Helm and Python packages can each only read files inside their own folder, so the
files that several of them ship are copied, never edited in place:

    crds/*.yaml (not kustomization.yaml)  ->  operator/ccoperator/data/crds/   (ccoperator demo)
    examples/*.yaml                       ->  operator/ccoperator/data/examples/
    crds/*.yaml                           ->  charts/ccoperator/files/crds/    (the chart's CRDs)
    deploy/base/clusterrole.yaml          ->  charts/ccoperator/files/         (its RBAC rules)
    deploy/base/user-roles.yaml           ->  charts/ccoperator/files/         (edit/view roles)
    deploy/overlays/namespaced/cluster-scoped.yaml -> charts/ccoperator/files/ (namespaced mode)
    deploy/components/admission-policies/admission-policies.yaml -> charts/ccoperator/files/

    python tools/sync_copies.py           # write the copies (make generate)
    python tools/sync_copies.py --check   # exit 1 and name every copy that differs

tests/unit/test_copies.py runs the check, so a change to crds/ or examples/ without
`make generate` fails the suite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (source folder, file pattern, destination folder); kustomization.yaml is never copied.
COPIES: tuple[tuple[str, str, str], ...] = (
    ("crds", "*.yaml", "operator/ccoperator/data/crds"),
    ("examples", "*.yaml", "operator/ccoperator/data/examples"),
    ("crds", "*.yaml", "charts/ccoperator/files/crds"),
    ("deploy/base", "clusterrole.yaml", "charts/ccoperator/files"),
    ("deploy/base", "user-roles.yaml", "charts/ccoperator/files"),
    ("deploy/overlays/namespaced", "cluster-scoped.yaml", "charts/ccoperator/files"),
    ("deploy/components/admission-policies", "admission-policies.yaml",
     "charts/ccoperator/files"),
)


def _sources(folder: Path, pattern: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob(pattern))
            if p.name != "kustomization.yaml"}


def differences(repo: Path = REPO) -> list[str]:
    """What differs between each source and its copy (empty: all in sync)."""
    found: list[str] = []
    for src, pattern, dst in COPIES:
        want, have = _sources(repo / src, pattern), _sources(repo / dst, pattern)
        for name in sorted(want.keys() | have.keys()):
            if name not in have:
                found.append(f"{dst}/{name}: missing (copy of {src}/{name})")
            elif name not in want:
                found.append(f"{dst}/{name}: no longer in {src}/")
            elif want[name] != have[name]:
                found.append(f"{dst}/{name}: differs from {src}/{name}")
    return found


def sync(repo: Path = REPO) -> list[str]:
    """Write every copy; return what changed."""
    changed = differences(repo)
    for src, pattern, dst in COPIES:
        target = repo / dst
        target.mkdir(parents=True, exist_ok=True)
        want = _sources(repo / src, pattern)
        for stale in set(_sources(target, pattern)) - set(want):
            (target / stale).unlink()
        for name, data in want.items():
            (target / name).write_bytes(data)
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report differences")
    args = parser.parse_args()
    if args.check:
        found = differences()
        for line in found:
            print(line, file=sys.stderr)
        if found:
            print("run `make generate`", file=sys.stderr)
        return 1 if found else 0
    for line in sync():
        print(f"updated {line.split(':')[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
