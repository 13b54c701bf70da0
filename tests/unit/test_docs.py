"""The README stays true: every setting and every condition reason is documented, and every
file the documentation names is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

from ccoperator.api.conditions import Reason
from ccoperator.settings import Settings

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
DOCS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
        REPO / "charts" / "ccoperator" / "README.md")
# A path of the repository (or of the workspace it was written in: shared/, seeds/) as the
# documentation writes it, in prose, backticks or commands; not part of a URL or a longer path.
REPO_PATH = re.compile(
    r"(?<![\w./:-])((?:docs|deploy|examples|charts|crds|tests|operator|tools|shared|seeds)/[\w./-]*)")
# The one path the README has its reader create (a copy of deploy/overlays/example).
READERS_OWN = frozenset({"deploy/overlays/mine"})


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in Settings.model_fields:
        assert f"`CCOPERATOR_{name.upper()}`" in README, name
        assert f"`--{name.replace('_', '-')}`" in README, name


def test_every_reason_is_documented() -> None:
    for reason in Reason:
        assert f"| `{reason.value}` |" in README, reason.value


def test_every_path_the_docs_name_is_in_the_repository() -> None:
    missing = [f"{doc.relative_to(REPO)}: {path}"
               for doc in DOCS for path in REPO_PATH.findall(doc.read_text())
               if path.rstrip("/.") not in READERS_OWN and not (REPO / path.rstrip("/.")).exists()]
    assert not missing, "\n".join(missing)
