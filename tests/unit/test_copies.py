"""The generated copies (package data of `ccoperator demo`, the chart's CRDs and RBAC rules) are
identical to their sources."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _sync_copies() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_copies", REPO / "tools" / "sync_copies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_copies_are_identical_to_their_sources() -> None:
    found = _sync_copies().differences(REPO)
    assert not found, "\n".join([*found, "run `make generate`"])


def test_every_crd_and_example_is_package_data() -> None:
    for src in ("crds", "examples"):
        names = {p.name for p in (REPO / src).glob("*.yaml")} - {"kustomization.yaml"}
        assert names, src
        assert names == {p.name for p in (REPO / "operator/ccoperator/data" / src).glob("*.yaml")}


def test_check_reports_a_drifted_copy(tmp_path: Path) -> None:
    module = _sync_copies()
    module.COPIES = (("src", "*.yaml", "one"), ("src", "b.yaml", "two"))
    (tmp_path / "src").mkdir()
    for name in ("a.yaml", "b.yaml", "kustomization.yaml"):
        (tmp_path / "src" / name).write_text(f"{name}: 1\n")
    assert len(module.differences(tmp_path)) == 3
    module.sync(tmp_path)
    assert module.differences(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["a.yaml", "b.yaml"]
    assert [p.name for p in (tmp_path / "two").iterdir()] == ["b.yaml"]
    (tmp_path / "one" / "a.yaml").write_text("a: 2\n")
    (tmp_path / "two" / "c.yaml").write_text("not matched by b.yaml: ignored\n")
    assert module.differences(tmp_path) == ["one/a.yaml: differs from src/a.yaml"]
