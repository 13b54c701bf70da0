"""Kubernetes I/O: the HTTP session to the API server (`http`), reads and writes of the
objects the operator touches (`api`), list+watch streams (`watch`), the managed-Secret cache
(`secret_cache`) and the parsing of Secret bodies (`secret_body`). No decisions here."""
