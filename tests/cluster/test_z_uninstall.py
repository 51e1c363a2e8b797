"""`helm uninstall` removes everything of the release but what the docs say is kept: the CRD
(`helm.sh/resource-policy: keep`, so Leaderboards survive a reinstall)."""

from __future__ import annotations

from tests.cluster.release import NOT_YET, Release
from tests.support.waits import wait_for

NAMESPACED = (
    "deployments,statefulsets,replicasets,pods,services,configmaps,secrets,serviceaccounts,"
    "jobs,ingresses,poddisruptionbudgets,horizontalpodautoscalers,networkpolicies,roles,"
    "rolebindings,persistentvolumeclaims"
)


def test_uninstall_removes_everything_but_the_crd(release: Release) -> None:
    selector = f"app.kubernetes.io/instance={release.name}"
    assert release.kubectl("get", NAMESPACED, "-l", selector, "-o", "name").strip()
    release.helm("uninstall", release.name, "--wait", "--timeout", "5m")

    def nothing_left() -> bool:
        left = release.kubectl("get", NAMESPACED, "-l", selector, "-o", "name").strip()
        return left == ""

    wait_for(nothing_left, 120, "no object of the release in its namespace", ignoring=NOT_YET)
    cluster_scoped = release.cluster.kubectl(
        "get", "clusterroles,clusterrolebindings,clusterkopfpeerings", "-l", selector, "-o", "name"
    )
    assert cluster_scoped.strip() == ""
    crd = release.cluster.kubectl("get", "crd", "leaderboards.scoreboard.dev", "-o", "name")
    assert (
        crd.strip() == "customresourcedefinition.apiextensions.k8s.io/leaderboards.scoreboard.dev"
    )
