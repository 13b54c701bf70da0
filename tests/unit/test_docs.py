"""The README stays true: every setting and every condition reason is documented."""

from __future__ import annotations

from pathlib import Path

from ccoperator.api.conditions import Reason
from ccoperator.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in Settings.model_fields:
        assert f"`CCOPERATOR_{name.upper()}`" in README, name
        assert f"`--{name.replace('_', '-')}`" in README, name


def test_every_reason_is_documented() -> None:
    for reason in Reason:
        assert f"| `{reason.value}` |" in README, reason.value
