"""Build the project's image from its one Dockerfile with podman, without a daemon or a registry.

    python -m ccoperator_envtest.image [--context DIR]   # build if needed, print the tag

No registry is reachable where the tests run, so the Dockerfile's BASE_IMAGE is a Debian
bookworm made here: `debootstrap --variant=minbase` plus python3, python3-venv and
ca-certificates, kept as a tarball under ``~/.cache/ccoperator/images/`` and imported as
``localhost/ccoperator-base:bookworm``. The image is tagged
``localhost/ccoperator:src-<digest>`` over the Dockerfile, the build context's package sources
and the base, so an unchanged tree is never rebuilt. podman, runc and debootstrap come from
Debian's archive (installed with apt-get when missing and running as root).

podman runs rootful with runc, cgroupfs and chroot isolation (no systemd, no nested
namespaces needed) and with a containers.conf that sets no default ulimits (raising them is
not allowed in this sandbox).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import build

BASE_TAG = "localhost/ccoperator-base:bookworm"
IMAGE_REPOSITORY = "localhost/ccoperator"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
HOST_PACKAGES = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
# The host's pip configuration and CA bundle, mounted into RUN steps when present (an egress
# proxy with its own CA sits between this machine and PyPI). Build-time only, not in the image.
BUILD_MOUNTS = ("/etc/pip.conf", "/etc/ssl/certs/ca-certificates.crt")
# What the Dockerfile's build reads (beside the Dockerfile and .dockerignore).
CONTEXT_SOURCES = ("pyproject.toml", "README.md", "operator")


def _say(message: str) -> None:
    print(f"[image] {message}", flush=True)


def cache_root() -> Path:
    return build.cache_root().parent / "images"


def containers_conf() -> Path:
    path = cache_root() / "containers.conf"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[containers]\ndefault_ulimits = []\n")
    return path


def podman_argv(*args: str) -> list[str]:
    return ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs",
            "--events-backend=file", *args]


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def podman(*args: str, check: bool = True, timeout: float = 120.0
           ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(podman_argv(*args), env=podman_env(), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise SystemExit(f"[image] podman {' '.join(args)} failed ({result.returncode}):\n"
                         f"{result.stdout}{result.stderr}")
    return result


def ensure_host_packages() -> None:
    """podman, runc and debootstrap, from Debian's archive when one is missing."""
    missing = [pkg for cmd, pkg in HOST_PACKAGES.items() if shutil.which(cmd) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"[image] {', '.join(missing)} missing: install them "
                         "(Debian: apt-get install podman runc debootstrap)")
    _say(f"apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   env=env, check=True)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One builder at a time per machine (a second waits, then finds the cache filled)."""
    cache_root().mkdir(parents=True, exist_ok=True)
    with (cache_root() / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def base_tarball() -> Path:
    """The debootstrapped root filesystem as a tarball, made once per package set."""
    tag = hashlib.sha256(" ".join((SUITE, MIRROR, *BASE_PACKAGES)).encode()).hexdigest()[:12]
    path = cache_root() / f"debian-{SUITE}-minbase-{tag}.tar"
    if path.exists():
        return path
    started = time.monotonic()
    _say(f"debootstrap {SUITE} (minbase + {', '.join(BASE_PACKAGES)}) from {MIRROR}")
    with tempfile.TemporaryDirectory(dir=cache_root(), prefix="rootfs.") as work:
        rootfs = Path(work) / "rootfs"
        subprocess.run(["debootstrap", "--variant=minbase",
                        f"--include={','.join(BASE_PACKAGES)}", SUITE, str(rootfs), MIRROR],
                       check=True, stdout=subprocess.DEVNULL)
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / leftover).glob("*"):
                if item.is_file():
                    item.unlink()
        partial = path.with_name(path.name + ".partial")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.rename(path)
    _say(f"base rootfs {path} ({path.stat().st_size >> 20} MiB) in "
         f"{time.monotonic() - started:.0f}s")
    return path


def _image_id(ref: str) -> str | None:
    result = podman("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_base() -> str:
    """Import the base tarball as BASE_TAG unless podman has it from that tarball; its id."""
    tarball = base_tarball()
    label = f"ccoperator.base={tarball.name}"
    current = podman("image", "inspect", "--format",
                     '{{index .Labels "ccoperator.base"}}', BASE_TAG, check=False)
    if current.returncode != 0 or current.stdout.strip() != tarball.name:
        _say(f"podman import {tarball.name} as {BASE_TAG}")
        podman("import", "--change", f"LABEL {label}", str(tarball), BASE_TAG, timeout=600)
    image_id = _image_id(BASE_TAG)
    assert image_id, BASE_TAG
    return image_id


def _context_files(context: Path) -> Iterator[Path]:
    yield context / "Dockerfile"
    yield context / ".dockerignore"
    for name in CONTEXT_SOURCES:
        top = context / name
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            parts = set(path.relative_to(context).parts)
            if path.is_file() and "__pycache__" not in parts and not any(
                    p.endswith(".egg-info") for p in parts):
                yield path


def context_digest(context: Path, base_id: str) -> str:
    digest = hashlib.sha256(base_id.encode())
    for path in _context_files(context):
        digest.update(str(path.relative_to(context)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_image(context: Path) -> str:
    """Build the image of `context` (the repository) if that tree's tag is missing; its tag."""
    ensure_host_packages()
    with _locked():
        base_id = ensure_base()
        tag = f"{IMAGE_REPOSITORY}:src-{context_digest(context, base_id)[:12]}"
        if _image_id(tag) is not None:
            return tag
        started = time.monotonic()
        _say(f"podman build {tag} from {context / 'Dockerfile'} on {BASE_TAG}")
        mounts = [f"--volume={p}:{p}:ro" for p in BUILD_MOUNTS if Path(p).exists()]
        result = subprocess.run(
            podman_argv("build", "--isolation", "chroot", "--network", "host",
                        "--build-arg", f"BASE_IMAGE={BASE_TAG}", *mounts,
                        "--tag", tag, "--file", str(context / "Dockerfile"), str(context)),
            env=podman_env(), capture_output=True, text=True, timeout=1200)
        if result.returncode != 0:
            sys.stderr.write(result.stdout[-6000:] + result.stderr[-4000:])
            raise SystemExit(f"[image] podman build failed ({result.returncode})")
        _say(f"built {tag} in {time.monotonic() - started:.0f}s")
        _remove_older(tag)
        return tag


def _remove_older(keep: str) -> None:
    """Drop earlier src- builds and dangling layers: each image is ~400 MB."""
    listing = podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout
    for ref in listing.split():
        if ref.startswith(f"{IMAGE_REPOSITORY}:src-") and ref != keep:
            podman("rmi", "--force", ref, check=False)
    podman("image", "prune", "--force", check=False)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ccoperator_envtest.image",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--context", type=Path, default=Path.cwd(),
                        help="the repository (Dockerfile and package sources); default: cwd")
    args = parser.parse_args(argv)
    print(ensure_image(args.context.resolve()))


if __name__ == "__main__":
    main()
