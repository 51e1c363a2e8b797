"""Chaos tier fixtures: a stack of the test's OWN (see :mod:`tests.chaos.stack`)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.chaos.stack import Stack


@pytest.fixture
def stack_factory(
    base_env: dict[str, str], log_dir: Path, admin_api_key: str
) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []
    roots: list[Path] = []

    def make(redis_args: Sequence[str] = ()) -> Stack:
        root = Path(tempfile.mkdtemp(prefix="scoreboard-chaos-"))
        root.chmod(0o755)
        roots.append(root)
        stack = Stack(root, base_env, log_dir, admin_api_key)
        stacks.append(stack)
        stack.start(redis_args)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    return stack_factory()
