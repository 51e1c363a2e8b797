"""Reading a Secret through the Kubernetes API, with the credentials kopf logs in with.

kopf's own login (no client library installed) is its in-cluster service account, else the
kubeconfig: the same two public login functions are used here, on every call, so a rotated
service-account token is picked up. The RBAC this needs is ``get`` on ``secrets`` (granted by
the chart; never list or watch). Secret values are returned to the caller and never logged.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import quote

import httpx
import kopf


class SecretError(Exception):
    """The Secret cannot be read: ``reason`` is a condition reason, the message is safe to show
    (it never contains secret data)."""

    def __init__(self, reason: str, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.temporary = temporary


def _connection() -> kopf.ConnectionInfo:
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise SecretError(
            "NoCredentials",
            "no Kubernetes credentials (service account or kubeconfig)",
            temporary=True,
        )
    return info


async def read_secret(namespace: str, name: str) -> dict[str, str]:
    """The decoded ``data`` of Secret ``namespace/name`` (keys to UTF-8 text).

    Raises :class:`SecretError`: ``SecretNotFound`` (404), ``SecretForbidden`` (401/403),
    ``SecretUnreadable`` (anything else; temporary)."""
    info = _connection()
    url = f"{info.server.rstrip('/')}/api/v1/namespaces/{quote(namespace, safe='')}/secrets/{quote(name, safe='')}"
    what = f"Secret {namespace}/{name}"
    try:
        async with httpx.AsyncClient(
            verify=info.as_ssl_context(),
            headers=info.as_http_headers(),
            timeout=10.0,
            trust_env=info.trust_env,
        ) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        raise SecretError(
            "SecretUnreadable", f"{what}: {type(error).__name__}", temporary=True
        ) from error
    if response.status_code == 404:
        raise SecretError("SecretNotFound", f"{what} does not exist", temporary=True)
    if response.status_code in (401, 403):
        raise SecretError(
            "SecretForbidden",
            f"{what}: the operator may not read it (HTTP {response.status_code})",
            temporary=True,
        )
    if not response.is_success:
        raise SecretError(
            "SecretUnreadable", f"{what}: HTTP {response.status_code}", temporary=True
        )
    body: Any = response.json()
    data = body.get("data") if isinstance(body, dict) else None
    out: dict[str, str] = {}
    for key, value in (data or {}).items():
        try:
            out[str(key)] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            continue  # binary values are not usable as text secrets
    return out
