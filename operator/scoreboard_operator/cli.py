"""``scoreboard-operator run``: the kopf operator, started programmatically."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random

import click

from .logs import configure_logging
from .settings import get_settings


def default_priority(pod_name: str) -> int:
    """Peering priority of this replica: derived from its pod name (stable for the pod's life,
    distinct between replicas), or random when there is no pod name. The live replica with the
    highest priority is active; equal priorities would pause every replica."""
    if pod_name:
        digest = hashlib.sha256(pod_name.encode()).digest()
        return 1 + int.from_bytes(digest[:4], "big") % (2**31 - 2)
    return random.randint(1, 2**31 - 1)


@click.group()
def main() -> None:
    """Scoreboard operator: reconciles Leaderboard resources into the scoreboard api."""


@main.command()
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    help="Serve only this namespace (repeatable). Default: WATCH_NAMESPACE, else all namespaces.",
)
@click.option(
    "--peering",
    "peering_name",
    default=None,
    help="Name of the (Cluster)KopfPeering object shared by the replicas. Default: "
    "PEERING_NAME; without one the operator runs standalone (one replica only).",
)
@click.option(
    "--standalone",
    is_flag=True,
    default=False,
    help="Ignore peering even when PEERING_NAME is set.",
)
@click.option(
    "--priority",
    type=int,
    default=None,
    help="Peering priority (the live replica with the highest one is active). Default: "
    "PEERING_PRIORITY, else derived from POD_NAME, else random, so that replicas never tie.",
)
@click.option(
    "--liveness",
    "liveness",
    default=None,
    help="kopf liveness endpoint URL. Default: http://0.0.0.0:$HEALTH_PORT/healthz "
    "(HEALTH_PORT=8080; 0 disables it).",
)
def run(
    namespaces: tuple[str, ...],
    peering_name: str | None,
    standalone: bool,
    priority: int | None,
    liveness: str | None,
) -> None:
    """Run the operator until SIGTERM/SIGINT."""
    settings = get_settings()
    configure_logging(settings.log_level)
    ns = list(namespaces) or settings.namespaces
    peering = None if standalone else (peering_name or settings.peering_name or None)
    if peering is not None and priority is None:
        priority = settings.peering_priority
        if priority is None:
            priority = default_priority(settings.pod_name)
    if liveness is None:
        port = settings.health_port
        liveness = f"http://0.0.0.0:{port}/healthz" if port else ""

    if settings.pod_name:  # kopf names this replica in the peering object by POD_ID
        os.environ.setdefault("POD_ID", settings.pod_name)

    import kopf

    from . import handlers  # registers the handlers with kopf's default registry

    logging.getLogger("scoreboard.operator").info(
        "starting scoreboard-operator",
        extra={
            "namespaces": ns or "all",
            "peering": peering or "standalone",
            "priority": priority,
            "liveness": liveness or None,
            "handlers": handlers.__name__,
        },
    )
    asyncio.run(
        kopf.operator(
            clusterwide=not ns,
            namespaces=ns,
            standalone=peering is None,
            peering_name=peering,
            priority=priority,
            liveness_endpoint=liveness or None,
        )
    )


if __name__ == "__main__":  # pragma: no cover
    main()
