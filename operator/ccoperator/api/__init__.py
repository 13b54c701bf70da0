"""Pydantic models of the operator's resources (the tenant kinds; the client is in resource.py)."""
