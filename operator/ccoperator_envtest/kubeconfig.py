"""Talking to a cluster: kubeconfig files, the kubectl binary, Python API clients."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .base import Cluster, KubectlError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def kubeconfig_doc(server: str, user: dict[str, Any], *, ca_file: Path | None,
                    namespace: str = "default", name: str = "ccoperator-test") -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    else:
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name,
                      "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
    }


def write_yaml(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)


def write_token_kubeconfig(cluster: Cluster, token: str, path: Path, *,
                           namespace: str = "default") -> Path:
    """Write a kubeconfig authenticating with a bearer token (e.g. a ServiceAccount's).

    The CA is written next to it (``<path>.ca.crt``) and referenced by path rather than
    inlined: the Python client copies inline cert data to /tmp files it only removes atexit.
    """
    ca = cluster.ca_pem()
    ca_file: Path | None = None
    if ca is not None:
        ca_file = path.with_name(path.name + ".ca.crt")
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        ca_file.write_bytes(ca)
    write_yaml(path, kubeconfig_doc(cluster.server, {"token": token}, ca_file=ca_file,
                                      namespace=namespace))
    return path


def run_kubectl(kubectl: Path | str, kubeconfig: Path, args: Iterable[str], *, check: bool,
                 input: str | None, timeout: float, cache_dir: Path | None
                 ) -> subprocess.CompletedProcess[str]:
    argv = [str(kubectl), f"--kubeconfig={kubeconfig}"]
    if cache_dir is not None:
        # kubectl caches discovery per host:port under ~/.kube/cache; ports are reused by the
        # next throwaway cluster, whose CRDs would then be missing from a stale cache.
        argv.append(f"--cache-dir={cache_dir}")
    argv += list(args)
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    result = subprocess.run(argv, input=input, capture_output=True, text=True,
                            timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
    return result


def api_client_from_kubeconfig(kubeconfig: Path) -> ApiClient:
    """A ``kubernetes.client.ApiClient`` for any kubeconfig (e.g. a token one); close it."""
    from kubernetes import config  # imported late: heavy, and only some callers need it

    client: ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call,unused-ignore]
        config_file=str(kubeconfig), persist_config=False)
    return client

