"""The chart's NetworkPolicies, enforced on the node (kube-router's firewall): the whole tier
already ran under them (so they allow what the platform needs); here, what they must refuse
is refused, seen from the platform's own pods."""

from __future__ import annotations

import pytest

from tests.cluster.release import Release

CONNECT = (
    "import socket, sys\n"
    "s = socket.socket(); s.settimeout(3)\n"
    "try:\n"
    "    s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
    "except OSError as error:\n"
    "    print('blocked', type(error).__name__)\n"
)


def _connect(release: Release, pod: str, host: str, port: int) -> str:
    return release.kubectl("exec", pod, "--", "python3", "-c", CONNECT, host, str(port)).strip()


@pytest.mark.parametrize(
    ("source", "target", "port", "allowed"),
    [
        ("realtime", "redis", 6379, True),  # realtime -> Redis: its Pub/Sub
        ("realtime", "api", 8000, True),  # realtime -> api: the JWKS
        ("realtime", "postgresql", 5432, False),  # realtime never needs the database
        ("operator", "postgresql", 5432, False),  # nor the operator
        ("operator", "redis", 6379, False),
        ("operator", "realtime", 8001, False),  # nothing but the ingress reaches realtime
        ("api", "realtime", 8001, False),
    ],
)
def test_pods_reach_only_what_they_need(
    release: Release, source: str, target: str, port: int, allowed: bool
) -> None:
    pod = release.pods(source)[0]["metadata"]["name"]
    service = f"{release.name}-scoreboard-{target}"
    outcome = _connect(release, pod, service, port)
    assert outcome == "open" if allowed else outcome.startswith("blocked"), outcome


def test_a_pod_outside_the_release_cannot_reach_the_databases(release: Release) -> None:
    """A stranger in the same namespace (any pod an attacker could start there) gets nothing:
    not the databases, not the api (only the ingress controller, realtime, the operator,
    Prometheus and `helm test` may call it)."""
    image = release.pods("api")[0]["spec"]["containers"][0]["image"]
    release.kubectl(
        "run",
        "np-stranger",
        f"--image={image}",
        "--image-pull-policy=Never",
        "--restart=Never",
        "--labels=app=np-stranger",
        "--command",
        "--",
        "sleep",
        "300",
    )
    try:
        release.kubectl("wait", "pod/np-stranger", "--for=condition=Ready", "--timeout=120s")
        for target, port in (("postgresql", 5432), ("redis", 6379), ("api", 8000)):
            outcome = _connect(release, "np-stranger", f"{release.name}-scoreboard-{target}", port)
            assert outcome.startswith("blocked"), (target, outcome)
    finally:
        release.kubectl("delete", "pod", "np-stranger", "--wait=false")
