"""The one place the control-plane versions are pinned.

Kubernetes v1.34.x requires its staging modules (k8s.io/api, ...) at v0.0.0 and points
them at local folders, so the builder replaces each one with the matching published
v0.34.x release. etcd is paired as envtest pairs it (3.6.x for Kubernetes 1.34).
"""

KUBERNETES_VERSION = "v1.34.4"
STAGING_VERSION = "v0.34.4"
ETCD_VERSION = "v3.6.16"
# Mirrors upstream k8s.io/kubernetes go.mod ("godebug default=go1.24").
GODEBUG_DEFAULT = "go1.24"

# Every k8s.io staging module of the 1.34 release; each must be replaced (see module docstring).
STAGING_MODULES = (
    "api", "apiextensions-apiserver", "apimachinery", "apiserver", "cli-runtime",
    "client-go", "cloud-provider", "cluster-bootstrap", "code-generator", "component-base",
    "component-helpers", "controller-manager", "cri-api", "cri-client",
    "csi-translation-lib", "dynamic-resource-allocation", "endpointslice", "externaljwt",
    "kms", "kube-aggregator", "kube-controller-manager", "kube-proxy", "kube-scheduler",
    "kubectl", "kubelet", "metrics", "mount-utils", "pod-security-admission",
    "sample-apiserver", "sample-cli-plugin", "sample-controller",
)

KUBE_BINARIES = ("kube-apiserver", "kubectl", "kube-controller-manager")
