"""The fault-injection suite (marked `chaos`) uses the session's control plane, the simulator
and the `crd` fixture of tests/crd_fixtures.py.

It runs in ~2 minutes (bounded by ~10), so the default `pytest` run collects it; `make chaos`
(`pytest -m chaos tests/faults`) runs only it, and `pytest -m "not chaos"` leaves it out.
"""
