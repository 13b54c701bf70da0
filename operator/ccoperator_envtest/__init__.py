"""A real Kubernetes control plane for tests, the demo and benchmarks (after controller-runtime's
envtest): etcd, kube-apiserver, kube-controller-manager and kubectl built from Go modules into
``~/.cache/ccoperator/controlplane/`` and started on loopback.

Modules
    versions   the pinned Kubernetes and etcd versions
    build      builds the binaries when missing (``python -m ccoperator_envtest.build``)
    cluster    ``ControlPlane`` (start, stop, kubectl, api_client, restarts, audit log), and
               the names callers import (``from ccoperator_envtest.cluster import ...``);
               no pytest import
    base       the ``Cluster`` interface and its errors
    pki        the throwaway certificates and service-account key
    flags      the command lines of etcd, kube-apiserver, kube-controller-manager
    components one process each, and nothing outliving its owner (atexit, signals, sweep)
    crds       waiting for a CRD; the follower that restarts the garbage collector
    kubeconfig kubeconfig files, kubectl, API clients
    external   ``ExternalCluster`` (``CCOPERATOR_TEST_KUBECONFIG``)
    processes  children that die with their parent (PR_SET_PDEATHSIG), free loopback ports
    gotools    other Go tools (helm, ...) built into ``~/.cache/ccoperator/tools/``
    fixtures   the pytest plugin (``pytest_plugins = ["ccoperator_envtest.fixtures"]``)

Shipped with the ``ccoperator`` distribution so that ``ccoperator demo`` works from an
installed package; the operator itself (``ccoperator run``) never imports it.
"""
