"""ccoperator: a Kubernetes operator for the client credential clients of a tenant-scoped
identity service. Layers, top to bottom (import-linter keeps them one-way, pyproject.toml):
cli -> app -> controller -> tenants -> metrics -> reconcile | kube -> api -> identity.
docs/ARCHITECTURE.md says what lives where."""
