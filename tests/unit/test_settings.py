"""Settings from the environment and from `ccoperator run` flags."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from ccoperator.cli import build_parser, load_settings
from ccoperator.settings import Settings
from pydantic import ValidationError

BASE = {"CCOPERATOR_IDENTITY_URL": "http://127.0.0.1:1", "CCOPERATOR_CLIENT_ID": "op",
        "CCOPERATOR_CLIENT_SECRET": "pw"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_defaults(env: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.namespaces == []
    assert s.resync == timedelta(minutes=10)
    assert s.default_lifetime == timedelta(days=90)
    assert s.grace_period == timedelta(hours=1)
    assert s.resolved_client_secret().get_secret_value() == "pw"


def test_namespaces_from_env_are_comma_separated(env: pytest.MonkeyPatch) -> None:
    env.setenv("CCOPERATOR_NAMESPACES", "team-a, team-b,")
    assert Settings().namespaces == ["team-a", "team-b"]


def test_zero_lifetime_means_never(env: pytest.MonkeyPatch) -> None:
    env.setenv("CCOPERATOR_SECRET_LIFETIME", "0s")
    assert Settings().default_lifetime is None


def test_credentials_from_files(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.delenv("CCOPERATOR_CLIENT_ID")
    env.delenv("CCOPERATOR_CLIENT_SECRET")
    (tmp_path / "id").write_text("op-from-file\n")
    (tmp_path / "secret").write_text("pw-from-file\n")
    env.setenv("CCOPERATOR_CLIENT_ID_FILE", str(tmp_path / "id"))
    env.setenv("CCOPERATOR_CLIENT_SECRET_FILE", str(tmp_path / "secret"))
    s = Settings()
    assert s.resolved_client_id() == "op-from-file"
    assert s.resolved_client_secret().get_secret_value() == "pw-from-file"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("CCOPERATOR_RESYNC_PERIOD", "ten minutes", "invalid duration"),
    ("CCOPERATOR_LOG_LEVEL", "LOUD", "unknown log level"),
    ("CCOPERATOR_IDENTITY_CONCURRENCY", "0", "greater than or equal to 1"),
    ("CCOPERATOR_LOG_FORMAT", "xml", "text"),
])
def test_bad_values_are_clear_errors(env: pytest.MonkeyPatch, key: str, value: str,
                                     message: str) -> None:
    env.setenv(key, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_half_credentials_say_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCOPERATOR_IDENTITY_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("CCOPERATOR_CLIENT_SECRET", "pw")
    monkeypatch.delenv("CCOPERATOR_CLIENT_ID", raising=False)
    with pytest.raises(ValidationError, match="CCOPERATOR_CLIENT_ID"):
        Settings()
    monkeypatch.delenv("CCOPERATOR_CLIENT_SECRET")
    monkeypatch.setenv("CCOPERATOR_CLIENT_ID_FILE", "/nonexistent")
    with pytest.raises(ValidationError, match="CCOPERATOR_CLIENT_SECRET"):
        Settings()


def test_own_credentials_and_identity_url_are_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tenant objects may each name their URL and credentials Secret.
    for key in [*BASE, "CCOPERATOR_CLIENT_ID_FILE", "CCOPERATOR_CLIENT_SECRET_FILE"]:
        monkeypatch.delenv(key, raising=False)
    s = Settings()
    assert s.identity_url is None and not s.has_own_credentials


def test_every_setting_has_a_flag_and_flags_win(env: pytest.MonkeyPatch) -> None:
    parser = build_parser()
    run = parser._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    flags = {a.dest for a in run._actions}
    assert set(Settings.model_fields) <= flags
    args = parser.parse_args(["run", "--resync-period", "30s", "--namespaces", "x,y"])
    s = load_settings(args)
    assert s.resync == timedelta(seconds=30) and s.namespaces == ["x", "y"]


def test_run_with_bad_settings_exits_2(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from ccoperator.cli import main

    for key in [*BASE, "CCOPERATOR_CLIENT_ID_FILE", "CCOPERATOR_CLIENT_SECRET_FILE"]:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CCOPERATOR_RESYNC_PERIOD", "ten minutes")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "resync_period" in err and "CCOPERATOR_RESYNC_PERIOD" in err


def test_leader_election_defaults_like_controller_runtime(env: pytest.MonkeyPatch) -> None:
    env.setenv("CCOPERATOR_LEADER_ELECTION", "true")
    env.setenv("CCOPERATOR_NAMESPACE", "ccoperator-system")
    s = Settings()
    assert (s.lease_duration, s.renew_deadline, s.retry_period) == ("15s", "10s", "2s")
    assert s.resolved_lease_namespace == "ccoperator-system"
    assert not Settings(leader_election=False).leader_election


@pytest.mark.parametrize(("extra", "message"), [
    ({}, "no namespace is known"),
    ({"CCOPERATOR_NAMESPACE": "ns", "CCOPERATOR_RENEW_DEADLINE": "15s"}, "lease_duration >"),
    ({"CCOPERATOR_NAMESPACE": "ns", "CCOPERATOR_RETRY_PERIOD": "1500ms"}, "whole seconds"),
])
def test_leader_election_refuses_what_cannot_work(env: pytest.MonkeyPatch,
                                                  extra: dict[str, str], message: str) -> None:
    env.setenv("CCOPERATOR_LEADER_ELECTION", "true")
    for key, value in extra.items():
        env.setenv(key, value)
    with pytest.raises(ValidationError, match=message):
        Settings()
