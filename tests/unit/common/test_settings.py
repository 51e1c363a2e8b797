from __future__ import annotations

import pytest
from scoreboard_common.settings import CommonSettings, load_settings


def test_bad_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTH_LEEWAY_SECONDS", "forever")
    with pytest.raises(SystemExit) as caught:
        load_settings(CommonSettings)
    assert caught.value.code == 2
    assert "AUTH_LEEWAY_SECONDS" in capsys.readouterr().err


def test_hmac_algorithms_are_rejected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTH_ALGORITHMS", '["HS256"]')
    with pytest.raises(SystemExit):
        load_settings(CommonSettings)
    assert "AUTH_ALGORITHMS" in capsys.readouterr().err


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_ALGORITHMS", raising=False)
    settings = load_settings(CommonSettings)
    assert settings.auth_algorithms == ["ES256"]
    assert settings.auth_issuer == "scoreboard"
