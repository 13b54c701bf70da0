"""`ccoperator run | sim | demo --help`: what a user reads before the first run."""

from __future__ import annotations

import re

import pytest
from ccoperator.cli import build_parser, load_settings, main
from ccoperator.settings import Settings


def _raw_help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """One line, whatever the terminal width argparse wrapped to."""
    return " ".join(_raw_help(capsys, *argv).split())


@pytest.fixture
def run_help(capsys: pytest.CaptureFixture[str]) -> str:
    return _help(capsys, "run")


@pytest.fixture
def entries(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """`run --help`'s options, one string each: the flags, their values and their help."""
    found: list[str] = []
    for line in _raw_help(capsys, "run").splitlines():
        if line.startswith("  -"):
            found.append(line)
        elif found and line.startswith("   "):
            found[-1] += line
    # textwrap breaks long words after a hyphen ("--watch-" / "namespaces"): undo that.
    return [re.sub(r"(?<=\w-) ", "", " ".join(entry.split())) for entry in found]


def _entry(entries: list[str], flag: str) -> str:
    found = [e for e in entries if e.startswith((f"{flag} ", f"{flag}, "))]
    assert len(found) == 1, f"{flag}: {found or entries}"
    return found[0]


def test_run_help_describes_the_command(run_help: str) -> None:
    assert "usage: ccoperator run" in run_help
    assert "Run the operator" in run_help and "CCOPERATOR_" in run_help


@pytest.mark.parametrize(("flag", "metavar"), [
    ("--identity-url", "URL"), ("--token-url", "URL"),
    ("--resync-period", "DURATION"), ("--secret-lifetime", "DURATION"),
    ("--rotation-grace-period", "DURATION"), ("--tenant-check-period", "DURATION"),
    ("--lease-duration", "DURATION"), ("--renew-deadline", "DURATION"),
    ("--retry-period", "DURATION"),
    ("--metrics-port", "PORT"), ("--liveness-port", "PORT"),
    ("--client-secret-file", "FILE"), ("--client-id-file", "FILE"),
    ("--client-secret", "SECRET"), ("--identity-timeout", "SECONDS"),
    ("--watch-timeout", "SECONDS"), ("--workers", "N"), ("--bind-address", "ADDRESS"),
    ("--log-format", "{text,json}"), ("--namespace", "NAMESPACE"),
])
def test_run_flags_name_their_values_by_type(run_help: str, flag: str, metavar: str) -> None:
    assert f"{flag} {metavar}" in run_help
    assert "VALUE" not in run_help


@pytest.mark.parametrize(("flag", "shown"), [
    ("--resync-period", "10m"), ("--secret-lifetime", "2160h"), ("--metrics-port", "9090"),
    ("--identity-timeout", "10"), ("--log-format", "text"), ("--leader-election", "off"),
    ("--identity-url", "not set"), ("--watch-namespaces", "not set"),
    ("--bind-address", "0.0.0.0"),  # noqa: S104 - a default shown
    ("--lease-name", "ccoperator-leader"),
])
def test_run_help_shows_the_real_defaults(entries: list[str], flag: str, shown: str) -> None:
    env = "CCOPERATOR_" + flag.removeprefix("--").replace("-", "_").upper()
    if flag == "--watch-namespaces":
        env = "CCOPERATOR_NAMESPACES"
    assert _entry(entries, flag).endswith(f"[env {env}; default: {shown}]")


def test_no_python_reprs_in_run_help(run_help: str) -> None:
    assert "None" not in run_help and "default: '" not in run_help


def test_booleans_are_flag_pairs(run_help: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "--leader-election, --no-leader-election" in run_help
    monkeypatch.setenv("CCOPERATOR_NAMESPACE", "ops")
    parser = build_parser()
    assert load_settings(parser.parse_args(["run", "--leader-election"])).leader_election
    monkeypatch.setenv("CCOPERATOR_LEADER_ELECTION", "true")
    assert load_settings(parser.parse_args(["run"])).leader_election  # unset: env decides
    assert not load_settings(parser.parse_args(["run", "--no-leader-election"])).leader_election


def test_secret_flag_warns_about_the_process_list(entries: list[str]) -> None:
    text = _entry(entries, "--client-secret")
    assert "process list" in text
    assert "--client-secret-file" in text and "CCOPERATOR_CLIENT_SECRET" in text


def test_watched_namespaces_and_own_namespace_are_told_apart(entries: list[str]) -> None:
    watched = _entry(entries, "--watch-namespaces")
    # The old name is listed with the new one, and keeps working.
    assert watched.startswith("--watch-namespaces NAMESPACE,..., --namespaces NAMESPACE,...")
    assert re.search(r"--namespace\b(?!s)", watched.split("...", 2)[2]), watched
    assert "--watch-namespaces" in _entry(entries, "--namespace")
    parser = build_parser()
    for flag in ("--watch-namespaces", "--namespaces"):
        assert load_settings(parser.parse_args(["run", flag, "a,b"])).namespaces == ["a", "b"]
    assert load_settings(parser.parse_args(["run", "--namespace", "a"])).namespaces == []


def test_every_setting_is_a_flag_with_its_env_name(run_help: str) -> None:
    for name in Settings.model_fields:
        assert f"--{name.replace('_', '-')}" in run_help
        assert f"CCOPERATOR_{name.upper()}" in run_help


def test_sim_help_names_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert _help(capsys, "sim").startswith("usage: ccoperator sim ")


def test_demo_help_tells_how_to_install(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys, "demo")
    assert "usage: ccoperator demo" in text
    assert "pip install ccoperator`" not in text and "not published" in text
    assert "pip install ." in text and ".whl" in text
    assert "the CRDs" in text and "the CRD " not in text
