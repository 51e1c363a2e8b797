"""Reading Secrets from the Kubernetes API with the credentials kopf itself uses (the pod's
ServiceAccount in a cluster, else the kubeconfig): kopf's own minimal login handlers give the
endpoint and credentials, httpx makes the one GET. The operator needs ``get`` on ``secrets``
only (the chart grants nothing more).

Values are returned decoded and must never be logged: callers hand them to the api only.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import kopf

#: How long kopf waits before retrying a handler whose Secret is missing or unreadable.
RETRY_DELAY_SECONDS = 30


class SecretUnavailable(kopf.TemporaryError):
    """A Secret that is missing or unreadable; kopf retries the handler with backoff."""


def _connection() -> kopf.ConnectionInfo:
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(
        settings=settings
    )
    if info is None:
        raise SecretUnavailable(
            "no Kubernetes credentials (no ServiceAccount token, no kubeconfig)",
            delay=RETRY_DELAY_SECONDS,
        )
    return info


def _pem(data: str | bytes) -> bytes:
    """kubeconfig ``*-data`` fields are base64 of PEM."""
    raw = data.encode() if isinstance(data, str) else data
    return raw if raw.lstrip().startswith(b"-----") else base64.b64decode(raw)


@contextlib.contextmanager
def _tls(info: kopf.ConnectionInfo) -> Iterator[ssl.SSLContext | bool]:
    if info.insecure:
        yield False
        return
    context = ssl.create_default_context()
    if info.ca_path:
        context.load_verify_locations(cafile=os.fsdecode(info.ca_path))
    elif info.ca_data:
        context.load_verify_locations(cadata=_pem(info.ca_data).decode())
    with tempfile.TemporaryDirectory(prefix="sb-op-") as folder:
        cert, key = info.certificate_path, info.private_key_path
        if info.certificate_data:
            cert = os.path.join(folder, "cert.pem")
            with open(cert, "wb") as handle:
                handle.write(_pem(info.certificate_data))
        if info.private_key_data:
            key = os.path.join(folder, "key.pem")
            with open(os.open(key, os.O_CREAT | os.O_WRONLY, 0o600), "wb") as handle:
                handle.write(_pem(info.private_key_data))
        if cert:
            context.load_cert_chain(os.fsdecode(cert), os.fsdecode(key) if key else None)
        yield context


def _auth_headers(info: kopf.ConnectionInfo) -> dict[str, str]:
    if info.token:
        return {"Authorization": f"{info.scheme or 'Bearer'} {info.token}"}
    if info.username and info.password:
        basic = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    return {}


async def read_secret(namespace: str, name: str) -> dict[str, str]:
    """The decoded ``data`` of Secret ``namespace/name`` (UTF-8 text values).

    Raises :class:`SecretUnavailable` (a ``kopf.TemporaryError``: the handler is retried with
    backoff) when the Secret is missing, forbidden or cannot be read."""
    info = _connection()
    path = f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets/{quote(name, safe='')}"
    where = f"Secret {namespace}/{name}"
    try:
        with _tls(info) as verify:
            async with httpx.AsyncClient(
                base_url=info.server.rstrip("/"),
                verify=verify,
                headers=_auth_headers(info),
                timeout=10.0,
                trust_env=info.trust_env,
            ) as client:
                response = await client.get(path)
    except httpx.HTTPError as error:
        raise SecretUnavailable(
            f"cannot read {where}: {type(error).__name__}", delay=RETRY_DELAY_SECONDS
        ) from None
    if response.status_code == 404:
        raise SecretUnavailable(f"{where} does not exist", delay=RETRY_DELAY_SECONDS)
    if response.status_code != 200:
        raise SecretUnavailable(
            f"cannot read {where}: HTTP {response.status_code}", delay=RETRY_DELAY_SECONDS
        )
    data = response.json().get("data") or {}
    try:
        return {str(k): base64.b64decode(v).decode() for k, v in data.items()}
    except (ValueError, UnicodeDecodeError):
        raise SecretUnavailable(
            f"{where} holds a value that is not UTF-8 text", delay=RETRY_DELAY_SECONDS
        ) from None
