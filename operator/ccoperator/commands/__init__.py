"""The commands run by hand against a live cluster and tenant: `ccoperator prune`, `plan` and
`import` (also `kubectl ccoperator plan|import`).

They never write except where the user asked (prune's DELETEs): `session` fences every
Kubernetes and identity client they build. `plan` decides through the operator's own core
(`ccoperator.assembly`), so it cannot drift from what the operator does. `cli` parses their
flags (the help lives in `arguments`, light to import) and imports them late.
"""
