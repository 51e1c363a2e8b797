"""tests.support.wait_for: returns the first truthy value, fails naming what it waited for."""

from __future__ import annotations

import pytest

from tests.support import wait_for, wait_for_async


def test_returns_the_first_truthy_value() -> None:
    values = iter([None, 0, "", "ready"])
    assert wait_for(lambda: next(values), interval=0) == "ready"


def test_a_condition_that_never_holds_fails_with_its_name_and_last_value() -> None:
    queue = [1, 2, 3]
    with pytest.raises(AssertionError, match=r"waiting for the queue to drain \(last: False\)"):
        wait_for(lambda: len(queue) == 0, 0, "the queue to drain")


async def test_async_predicates_are_awaited() -> None:
    values = iter([False, False, {"span": 1}])

    async def check() -> object:
        return next(values)

    assert await wait_for_async(check, interval=0) == {"span": 1}
    plain = iter([0, 7])
    assert await wait_for_async(lambda: next(plain), interval=0) == 7
    with pytest.raises(AssertionError, match="waiting for the broadcast"):
        await wait_for_async(lambda: None, 0, "the broadcast")


def test_no_module_imports_a_conftest() -> None:
    """Helpers are shared through tests/support (or a tier's own module), never a conftest:
    pytest loads conftests itself, and importing one twice runs its code twice."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*root.joinpath("tests").rglob("*.py"), *root.joinpath("bench").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").split(".")[-1] == "conftest"
            ):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, offenders


def test_free_port_skips_ports_that_browsers_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    """An e2e run drew 6000 (X11's port) for the api and the page could not call it."""
    import random

    from scoreboard_devstack import servers

    drawn = iter([6000, 6666, 10080, 6001])
    monkeypatch.setattr(random.Random, "randint", lambda self, a, b: next(drawn))
    monkeypatch.setattr(servers, "_bindable", lambda port: True)
    assert servers.free_port() == 6001
