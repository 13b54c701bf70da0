"""The command lines of etcd, kube-apiserver and kube-controller-manager, and why each flag.

Pure functions of paths and ports: the control plane (:mod:`.cluster`) picks the ports and
starts the processes.
"""

from __future__ import annotations

from pathlib import Path

from .base import SERVICE_CIDR
from .pki import Pki

# Metadata for every request, logged once at ResponseComplete (RequestReceived omitted) so a
# benchmark can count writes as events with verb create/update/patch.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""


def etcd_argv(bins: Path, workdir: Path, etcd_url: str, peer_url: str) -> list[str]:
    return [str(bins / "etcd"),
            "--name=default", f"--data-dir={workdir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            # Throwaway data: skipping fsync is the single biggest speed-up.
            "--unsafe-no-fsync=true",
            "--log-level=warn"]


def audit_argv(policy: Path, log: Path) -> list[str]:
    return [f"--audit-policy-file={policy}",
            f"--audit-log-path={log}",
            "--audit-log-format=json",
            # Synchronous, so a benchmark reading the log right after a request sees it
            # (blocking is the default for the log backend; be explicit).
            "--audit-log-mode=blocking"]


def apiserver_argv(bins: Path, workdir: Path, pki: Pki, *, etcd_url: str, port: int,
                   server: str, extra: list[str]) -> list[str]:
    return [str(bins / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={workdir / 'pki'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.client_ca_cert}",
            f"--service-account-issuer={server}/",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            # No serviceaccount controller runs, so no `default` ServiceAccount would ever
            # appear and the plugin would reject every Pod.
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            # The `kubernetes` Service endpoint would be 127.0.0.1, which Endpoints validation
            # rejects (loopback) every 10 s; nothing here needs it.
            "--endpoint-reconciler-type=none",
            "--shutdown-watch-termination-grace-period=2s",
            "--profiling=false",
            *extra]


def controller_manager_argv(bins: Path, kubeconfig: Path, pki: Pki) -> list[str]:
    return [str(bins / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            # Only what makes deletion real: ownerReference cascading and namespace content
            # removal. No nodes, pods scheduling or token controllers needed.
            "--controllers=garbagecollector,namespace",
            "--leader-elect=false",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=false",
            "--bind-address=127.0.0.1", "--secure-port=0",
            "--profiling=false"]
