"""Build the outside tools that judge the project (helm, promtool, checkers) from Go modules.

Like the control plane (build.py), each tool is built once per pinned version into
`~/.cache/ccoperator/tools/<name>-<version>/` and reused by tests, CI and `make` targets:

    python -m ccoperator_envtest.gotools helm promtool   # build what is missing, print paths
    python -m ccoperator_envtest.gotools --print helm     # only print where it is (no build)

Two kinds of tool:
- a published command (`helm.sh/helm/v3/cmd/helm@v3.22.0`): built with `go install`;
- a program of this repository (a folder with its own go.mod and go.sum, e.g. a checker that
  embeds gopher-lua or kstatus): built with `go build`, cached under a digest of its sources,
  so editing the program rebuilds it and nothing else does.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from . import build


@dataclass(frozen=True)
class GoTool:
    """A published Go command (`package@version`), or a program folder in this repository."""

    name: str
    package: str | None = None  # e.g. "helm.sh/helm/v3/cmd/helm"
    version: str | None = None  # e.g. "v3.22.0"
    source: Path | None = None  # a folder of this repository holding go.mod, go.sum, *.go
    # Extra -X flags (e.g. the version a tool reports; `go install` sets none of its own).
    ldflags: tuple[str, ...] = ()

    def tag(self) -> str:
        if self.source is not None:
            digest = hashlib.sha256()
            for path in sorted(self.source.rglob("*")):
                if path.is_file():
                    digest.update(str(path.relative_to(self.source)).encode())
                    digest.update(path.read_bytes())
            return f"{self.name}-src-{digest.hexdigest()[:12]}"
        return f"{self.name}-{self.version}"


# The one place tool versions are pinned. Add a tool here; everything else finds it by name.
TOOLS: dict[str, GoTool] = {}


def register(tool: GoTool) -> GoTool:
    TOOLS[tool.name] = tool
    return tool


HELM_VERSION = "v3.22.0"
# The Kubernetes minor of helm's client-go (v0.37 in helm v3.22.0's go.mod): helm's Makefile
# stamps it, else `helm template` and `helm lint` assume a v1.20 cluster.
HELM_KUBE_MINOR = "37"
register(GoTool(
    "helm", package="helm.sh/helm/v3/cmd/helm", version=HELM_VERSION,
    # What helm's own Makefile stamps: `helm version` reports the release, not "v3.x-dev".
    ldflags=(f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
             "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
             *(f"-X helm.sh/helm/v3/pkg/{pkg}.k8sVersion{part}={value}"
               for pkg in ("chartutil", "lint/rules")
               for part, value in (("Major", "1"), ("Minor", HELM_KUBE_MINOR)))),
))


def cache_root() -> Path:
    return build.cache_root().parent / "tools"


def path(name: str) -> Path:
    tool = TOOLS[name]
    return cache_root() / tool.tag() / name


def ensure(name: str) -> Path:
    """Build `name` if its pinned version is not in the cache; return the binary's path."""
    tool = TOOLS[name]
    out = path(name)
    if os.access(out, os.X_OK):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    ldflags = " ".join(("-s -w", *tool.ldflags))
    if tool.source is not None:
        build._run(f"{name}: build", ["go", "build", "-trimpath", "-ldflags", ldflags,
                                       "-o", str(partial), "."], tool.source)
    else:
        assert tool.package and tool.version, f"{name}: package and version are required"
        gobin = out.parent / "gobin"
        env_cmd = ["env", f"GOBIN={gobin}", "go", "install", "-trimpath", "-ldflags", ldflags,
                   f"{tool.package}@{tool.version}"]
        build._run(f"{name}: go install", env_cmd, out.parent)
        (gobin / Path(tool.package).name).rename(partial)
    partial.rename(out)  # atomic: a half-built binary is never found as done
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--print", action="store_true", help="print paths, build nothing")
    parser.add_argument("names", nargs="*", help=f"tools (default: all of {sorted(TOOLS)})")
    args = parser.parse_args()
    for name in args.names or sorted(TOOLS):
        print(path(name) if args.print else ensure(name))


if __name__ == "__main__":
    main()
