"""Fixtures for tests against a real kube-apiserver + etcd (see docs/testing-k8s.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .apiserver import KubeAPIServer, Tools, ToolsMissingError


@pytest.fixture(scope="session")
def kube_tools() -> Tools:
    """Paths of kube-apiserver, etcd, helm, kubectl and the monitoring CRDs.

    Fails (never skips) when they are missing: run `make tools`.
    """
    try:
        return Tools.find()
    except ToolsMissingError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def kube(kube_tools: Tools, log_dir: Path) -> Iterator[KubeAPIServer]:
    """One etcd + kube-apiserver for the whole session, torn down at the end.

    ``kube.server``, ``kube.kubeconfig``, ``kube.kubectl(*args)``, ``kube.helm(*args)``,
    ``kube.admin_client()``, ``kube.create_token(ns, sa)``, ``kube.kubeconfig_for_token(t)``.
    Tests share it: give each test its own namespace. The etcd and kube-apiserver logs are
    copied to ``test-artifacts/logs/`` on teardown.
    """
    with KubeAPIServer(kube_tools, log_dir=log_dir) as server:
        yield server
