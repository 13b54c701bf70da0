"""The generated copies (package data of `ccoperator demo`) are identical to their sources."""

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
    for src, _dst in module.COPIES:
        (tmp_path / src).mkdir(parents=True)
        (tmp_path / src / "a.yaml").write_text("a: 1\n")
        (tmp_path / src / "kustomization.yaml").write_text("resources: [a.yaml]\n")
    assert len(module.differences(tmp_path)) == len(module.COPIES)
    module.sync(tmp_path)
    assert module.differences(tmp_path) == []
    dst = tmp_path / module.COPIES[0][1]
    assert not (dst / "kustomization.yaml").exists()
    (dst / "a.yaml").write_text("a: 2\n")
    assert module.differences(tmp_path) == [f"{module.COPIES[0][1]}/a.yaml: differs from "
                                            f"{module.COPIES[0][0]}/a.yaml"]
