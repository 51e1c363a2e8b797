"""Cluster tier fixtures: one cluster, one release and its ingress for the package."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
from scoreboard_devstack.cluster import Cluster, ClusterError

from tests.cluster.release import CHART, IMAGES, NAMESPACE, NOT_YET, RELEASE, ROOT, VALUES, Release
from tests.support.waits import wait_for


@pytest.fixture(scope="package")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    started = time.monotonic()
    try:
        cluster.up(IMAGES)
    except ClusterError as error:
        pytest.fail(f"the cluster did not come up: {error}", pytrace=False)
    print(f"\n[cluster] up in {time.monotonic() - started:.0f}s", flush=True)
    yield cluster
    logs = ROOT / "test-artifacts" / "cluster"
    logs.mkdir(parents=True, exist_ok=True)
    for log in cluster.layout.logs.glob("*.log"):
        (logs / log.name).write_bytes(log.read_bytes()[-2_000_000:])
    if os.environ.get("SCOREBOARD_KEEP_CLUSTER") != "1":
        cluster.down()


@pytest.fixture(scope="package")
def release(cluster: Cluster) -> Iterator[Release]:
    release = Release(cluster, RELEASE, NAMESPACE)
    keep = os.environ.get("SCOREBOARD_KEEP_RELEASE") == "1"  # for debugging one test
    if release.installed() and keep:
        yield release
        return
    if release.installed():  # left by an interrupted run
        release.helm("uninstall", RELEASE, "--wait")
    started = time.monotonic()
    cluster.helm(
        "install",
        RELEASE,
        str(CHART),
        "-n",
        NAMESPACE,
        "--create-namespace",
        "-f",
        str(VALUES),
        "--wait",
        "--timeout",
        "10m",
    )
    print(f"\n[cluster] helm install --wait took {time.monotonic() - started:.0f}s", flush=True)
    yield release
    # test_z_uninstall removes it; an earlier failure must not leave it for the next run.
    if release.installed() and not keep:
        release.helm("uninstall", RELEASE, "--wait")


@pytest.fixture(scope="package")
def ingress(release: Release) -> Iterator[httpx.Client]:
    with release.ingress() as http:
        wait_for(
            lambda: http.get("/.well-known/jwks.json").status_code == 200
            and http.get("/healthz").status_code == 200,  # "/" goes to realtime
            60,
            "api and realtime through the ingress",
            ignoring=NOT_YET,
        )
        yield http
