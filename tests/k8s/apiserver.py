"""A real Kubernetes control plane for tests: etcd + kube-apiserver on loopback.

Like controller-runtime's envtest: no kubelet, no controller-manager, no scheduler, so
objects are stored, validated, defaulted, admitted and authorized for real, but pods never
run and nothing reconciles them. The binaries are built from the Kubernetes and etcd Go
modules by ``scripts/tools.sh`` (``make tools``), which writes ``.cache/tools/env.sh``.

Usage::

    tools = Tools.find()
    with KubeAPIServer(tools) as kube:
        kube.kubectl("get", "namespaces")
        with kube.admin_client() as client:
            client.get("/version")
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ipaddress
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from scoreboard_devstack.pki import (
    APISERVER_DNS_NAMES,
    CertificateAuthority,
    KeyPair,
    write_service_account_keys,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

ENV_VARS = {
    "kube_apiserver": "SCOREBOARD_KUBE_APISERVER",
    "etcd": "SCOREBOARD_ETCD",
    "helm": "SCOREBOARD_HELM",
    "kubectl": "SCOREBOARD_KUBECTL",
    "monitoring_crds": "SCOREBOARD_MONITORING_CRDS",
}

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"  # only allocated from, never routed to
ADMIN_USER = "scoreboard-admin"
ADMIN_GROUP = "system:masters"


class ToolsMissingError(RuntimeError):
    """A binary the harness needs is not installed: run ``make tools``."""


class ControlPlaneError(RuntimeError):
    """etcd or kube-apiserver did not start (the message carries the log tail)."""


class _EarlyExit(ControlPlaneError):
    """etcd or kube-apiserver exited while starting (e.g. its port was taken meanwhile)."""


class CommandError(RuntimeError):
    """A kubectl or helm command exited non-zero."""

    def __init__(self, argv: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        self.argv = list(argv)
        self.result = result
        super().__init__(
            f"{shlex.join(self.argv)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )


# --------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the binaries and files ``scripts/tools.sh`` installs."""

    kube_apiserver: Path
    etcd: Path
    helm: Path
    kubectl: Path
    monitoring_crds: Path

    @classmethod
    def find(cls, env: Mapping[str, str] | None = None, env_file: Path | None = None) -> Tools:
        """Read the paths from ``SCOREBOARD_*`` variables, else from ``env.sh`` that
        ``make tools`` wrote in ``$SCOREBOARD_CACHE/tools/`` (default ``.cache/tools/``).

        Raises ``ToolsMissingError`` (never skips) when anything is missing.
        """
        env = os.environ if env is None else env
        cache = Path(env.get("SCOREBOARD_CACHE") or REPO_ROOT / ".cache")
        env_file = env_file or cache / "tools" / "env.sh"
        from_file = _parse_env_sh(env_file) if env_file.is_file() else {}
        paths: dict[str, Path] = {}
        problems: list[str] = []
        for field, var in ENV_VARS.items():
            value = env.get(var) or from_file.get(var)
            if not value:
                problems.append(f"{var} is not set and not in {env_file}")
                continue
            path = Path(value)
            if field == "monitoring_crds":
                if not path.is_dir():
                    problems.append(f"{var}={path} is not a directory")
            elif not (path.is_file() and os.access(path, os.X_OK)):
                problems.append(f"{var}={path} is not an executable file")
            paths[field] = path
        if problems:
            raise ToolsMissingError(
                "Kubernetes test tools are missing; run `make tools` (bash scripts/tools.sh):\n  "
                + "\n  ".join(problems)
            )
        return cls(**paths)


def _parse_env_sh(path: Path) -> dict[str, str]:
    """Parse the ``export NAME='value'`` lines that scripts/tools.sh writes."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line.startswith("export ") or "=" not in line:
            continue
        name, _, raw = line[len("export ") :].partition("=")
        parts = shlex.split(raw)
        values[name.strip()] = parts[0] if parts else ""
    return values


# --------------------------------------------------------------------------- processes


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _Process:
    """A child process with its output in a log file."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        self._log.close()


# --------------------------------------------------------------------------- control plane


class KubeAPIServer:
    """etcd + kube-apiserver on loopback, with an admin kubeconfig and helpers.

    Attributes once started: ``server`` (https URL), ``kubeconfig`` (admin kubeconfig
    path), ``ca_file``, ``admin_cert`` (client cert/key for a ``system:masters`` user),
    ``workdir`` (temp dir removed on ``stop``).
    """

    def __init__(
        self,
        tools: Tools,
        *,
        start_timeout: float = 120.0,
        extra_apiserver_flags: Sequence[str] = (),
        log_dir: Path | None = None,
        start_attempts: int = 3,
    ) -> None:
        """``log_dir``: where etcd.log and kube-apiserver.log are copied on ``stop``."""
        self.tools = tools
        self.start_timeout = start_timeout
        self.extra_apiserver_flags = list(extra_apiserver_flags)
        self.log_dir = log_dir
        self.start_attempts = start_attempts
        self.workdir: Path | None = None
        self._etcd: _Process | None = None
        self._apiserver: _Process | None = None
        self._ca: CertificateAuthority | None = None
        self._token_kubeconfigs = 0
        self.server = ""
        self.port = 0
        self.etcd_url = ""
        self.kubeconfig = Path()
        self.ca_file = Path()
        self.admin_cert = KeyPair(Path(), Path())
        self.service_account_issuer = ""
        self.api_audiences: list[str] = []

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> KubeAPIServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start etcd and kube-apiserver; retried on new ports if one exits while starting
        (a free port can be taken by another process between choosing and binding it)."""
        for attempt in range(1, self.start_attempts + 1):
            try:
                self._start_once()
                return
            except _EarlyExit:
                if attempt == self.start_attempts:
                    raise

    def _start_once(self) -> None:
        if self.workdir is not None:
            raise RuntimeError("already started")
        self.workdir = Path(tempfile.mkdtemp(prefix="scoreboard-kube-"))
        atexit.register(self.stop)
        try:
            self._write_pki()
            self._start_etcd()
            self._start_apiserver()
            self._write_admin_kubeconfig()
            self._wait_ready()
            self.ensure_namespace("default")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop both processes (SIGTERM, SIGKILL after 10 s) and remove the temp dir."""
        for proc in (self._apiserver, self._etcd):
            if proc is not None:
                proc.stop()
        self._apiserver = self._etcd = None
        if self.workdir is not None:
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                for name in ("etcd.log", "kube-apiserver.log"):
                    with contextlib.suppress(OSError):
                        shutil.copyfile(self.workdir / name, self.log_dir / name)
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        atexit.unregister(self.stop)

    @property
    def _dir(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("not started")
        return self.workdir

    def _write_pki(self) -> None:
        pki = self._dir / "pki"
        pki.mkdir(mode=0o700)
        self._ca = ca = CertificateAuthority(pki)
        self.ca_file = ca.cert_file
        self.port = free_port()
        self.server = f"https://127.0.0.1:{self.port}"
        self._serving = ca.issue(
            "apiserver",
            common_name="kube-apiserver",
            server=True,
            dns_names=APISERVER_DNS_NAMES,
            ip_addresses=[
                "127.0.0.1",
                str(ipaddress.IPv4Network(SERVICE_CLUSTER_IP_RANGE)[1]),  # the "kubernetes" Service
            ],
        )
        self.admin_cert = ca.issue(
            "admin", common_name=ADMIN_USER, organizations=[ADMIN_GROUP], client=True
        )
        service_account = write_service_account_keys(pki)
        self._sa_key_file, self._sa_pub_file = service_account.key, service_account.cert
        self.service_account_issuer = self.server
        self.api_audiences = [self.server, "https://kubernetes.default.svc"]

    def _start_etcd(self) -> None:
        data = self._dir / "etcd"
        data.mkdir(mode=0o700)
        client_port, peer_port = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self._etcd = _Process(
            "etcd",
            [
                str(self.tools.etcd),
                "--name=default",
                f"--data-dir={data}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync=true",  # a test store: speed over durability
                "--log-level=warn",
            ],
            self._dir / "etcd.log",
        )
        self._wait_http(self._etcd, f"{self.etcd_url}/health", client=httpx.Client(timeout=2))

    def _start_apiserver(self) -> None:
        certs = self._dir / "apiserver-certs"
        certs.mkdir()
        flags = [
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={certs}",
            f"--tls-cert-file={self._serving.cert}",
            f"--tls-private-key-file={self._serving.key}",
            f"--client-ca-file={self.ca_file}",
            f"--etcd-servers={self.etcd_url}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=true",
            "--authorization-mode=RBAC",
            "--anonymous-auth=true",  # /readyz, /version etc. stay public as in a real cluster
            f"--service-account-issuer={self.service_account_issuer}",
            f"--service-account-key-file={self._sa_pub_file}",
            f"--service-account-signing-key-file={self._sa_key_file}",
            f"--api-audiences={','.join(self.api_audiences)}",
            # No controller-manager mints SA tokens, so the ServiceAccount admission plugin
            # would reject pods waiting for them (envtest does the same).
            "--disable-admission-plugins=ServiceAccount",
            "--profiling=false",
            "--v=1",
            *self.extra_apiserver_flags,
        ]
        self._apiserver = _Process(
            "kube-apiserver",
            [str(self.tools.kube_apiserver), *flags],
            self._dir / "kube-apiserver.log",
        )

    def _wait_http(
        self, proc: _Process, url: str, *, client: httpx.Client, timeout: float | None = None
    ) -> None:
        deadline = time.monotonic() + (timeout or self.start_timeout)
        last = "no answer yet"
        with client:
            while True:
                if not proc.running():
                    raise _EarlyExit(
                        f"{proc.name} exited with {proc.proc.returncode}; last log lines:\n"
                        + proc.log_tail()
                    )
                try:
                    r = client.get(url)
                    if r.status_code == 200:
                        return
                    last = f"HTTP {r.status_code}: {r.text[-2000:]}"
                except httpx.HTTPError as e:
                    last = repr(e)
                if time.monotonic() > deadline:
                    raise ControlPlaneError(
                        f"{proc.name} not ready at {url} after {timeout or self.start_timeout}s "
                        f"({last}); last log lines:\n{proc.log_tail()}"
                    )
                time.sleep(0.25)

    def _wait_ready(self) -> None:
        assert self._apiserver is not None
        self._wait_http(
            self._apiserver, f"{self.server}/readyz", client=self.admin_client(timeout=5)
        )

    # ----------------------------------------------------------------- clients

    def ssl_context(self, cert: KeyPair | None = None) -> ssl.SSLContext:
        """Trusts the test CA; presents ``cert`` (a client cert) when given."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if cert is not None:
            ctx.load_cert_chain(str(cert.cert), str(cert.key))
        return ctx

    def admin_client(self, timeout: float = 30.0) -> httpx.Client:
        """An ``httpx.Client`` on the API server authenticated as a ``system:masters`` user."""
        return httpx.Client(
            base_url=self.server, verify=self.ssl_context(self.admin_cert), timeout=timeout
        )

    def client_for_token(self, token: str, timeout: float = 30.0) -> httpx.Client:
        """An ``httpx.Client`` that authenticates with a bearer token (e.g. a ServiceAccount's)."""
        return httpx.Client(
            base_url=self.server,
            verify=self.ssl_context(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def issue_client_cert(self, user: str, groups: Sequence[str] = ()) -> KeyPair:
        """A client certificate for any user/groups (RBAC decides what it may do)."""
        assert self._ca is not None
        safe = "".join(c if c.isalnum() else "-" for c in user)
        return self._ca.issue(
            f"user-{safe}-{time.monotonic_ns()}",
            common_name=user,
            organizations=groups,
            client=True,
        )

    # ----------------------------------------------------------------- kubeconfig

    def _kubeconfig_dict(self, user_name: str, user: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "scoreboard-test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(
                            self.ca_file.read_bytes()
                        ).decode(),
                    },
                }
            ],
            "users": [{"name": user_name, "user": user}],
            "contexts": [
                {
                    "name": "scoreboard-test",
                    "context": {
                        "cluster": "scoreboard-test",
                        "user": user_name,
                        "namespace": "default",
                    },
                }
            ],
            "current-context": "scoreboard-test",
            "preferences": {},
        }

    def _write_kubeconfig(self, path: Path, config: dict[str, Any]) -> Path:
        # JSON is valid YAML: kubectl, helm and client libraries read it as a kubeconfig.
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    def _write_admin_kubeconfig(self) -> None:
        self.kubeconfig = self._write_kubeconfig(
            self._dir / "admin.kubeconfig",
            self._kubeconfig_dict(
                ADMIN_USER,
                {
                    "client-certificate-data": base64.b64encode(
                        self.admin_cert.cert.read_bytes()
                    ).decode(),
                    "client-key-data": base64.b64encode(self.admin_cert.key.read_bytes()).decode(),
                },
            ),
        )

    def kubeconfig_for_token(self, token: str, path: Path | None = None) -> Path:
        """Write a kubeconfig that authenticates with ``token``; returns its path."""
        self._token_kubeconfigs += 1
        path = path or self._dir / f"token-{self._token_kubeconfigs}.kubeconfig"
        return self._write_kubeconfig(path, self._kubeconfig_dict("token-user", {"token": token}))

    def kubeconfig_for_cert(self, cert: KeyPair, path: Path | None = None) -> Path:
        """Write a kubeconfig that authenticates with a client cert from ``issue_client_cert``."""
        path = path or self._dir / f"{cert.cert.stem}.kubeconfig"
        return self._write_kubeconfig(
            path,
            self._kubeconfig_dict(
                cert.cert.stem,
                {
                    "client-certificate-data": base64.b64encode(cert.cert.read_bytes()).decode(),
                    "client-key-data": base64.b64encode(cert.key.read_bytes()).decode(),
                },
            ),
        )

    # ----------------------------------------------------------------- API helpers

    def ensure_namespace(self, name: str) -> None:
        """Create the namespace unless it exists (no namespace controller runs)."""
        with self.admin_client() as c:
            r = c.get(f"/api/v1/namespaces/{name}")
            if r.status_code == 200:
                return
            if r.status_code != 404:
                r.raise_for_status()
            r = c.post(
                "/api/v1/namespaces",
                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            )
            if r.status_code not in (201, 409):
                r.raise_for_status()

    def ensure_service_account(self, namespace: str, name: str) -> None:
        self.ensure_namespace(namespace)
        with self.admin_client() as c:
            r = c.post(
                f"/api/v1/namespaces/{namespace}/serviceaccounts",
                json={
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": name, "namespace": namespace},
                },
            )
            if r.status_code not in (201, 409):
                r.raise_for_status()

    def create_token(
        self,
        namespace: str,
        service_account: str,
        *,
        audiences: Sequence[str] | None = None,
        expiration_seconds: int = 3600,
        create: bool = True,
    ) -> str:
        """A ServiceAccount token from the TokenRequest API (creates the SA if ``create``)."""
        if create:
            self.ensure_service_account(namespace, service_account)
        spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
        if audiences is not None:
            spec["audiences"] = list(audiences)
        with self.admin_client() as c:
            r = c.post(
                f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
                json={
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": spec,
                },
            )
            r.raise_for_status()
            return str(r.json()["status"]["token"])

    def wait_for_crds_established(self, names: Iterable[str], timeout: float = 60.0) -> None:
        """Wait until every named CRD has the ``Established`` condition."""
        pending = set(names)
        deadline = time.monotonic() + timeout
        with self.admin_client() as c:
            while pending:
                for name in sorted(pending):
                    r = c.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                    if r.status_code == 200:
                        conditions = (r.json().get("status") or {}).get("conditions") or []
                        if any(
                            x.get("type") == "Established" and x.get("status") == "True"
                            for x in conditions
                        ):
                            pending.discard(name)
                if not pending:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRDs not Established after {timeout}s: {sorted(pending)}")
                time.sleep(0.2)

    # ----------------------------------------------------------------- CLIs

    def tool_env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        """Environment for kubectl/helm: this kubeconfig, caches inside the temp dir."""
        env = dict(os.environ)
        env.update(
            KUBECONFIG=str(kubeconfig or self.kubeconfig),
            KUBECACHEDIR=str(self._dir / "kube-cache"),
            HELM_CACHE_HOME=str(self._dir / "helm" / "cache"),
            HELM_CONFIG_HOME=str(self._dir / "helm" / "config"),
            HELM_DATA_HOME=str(self._dir / "helm" / "data"),
        )
        return env

    def _run(
        self,
        argv: Sequence[str],
        *,
        kubeconfig: Path | None,
        input: str | None,
        check: bool,
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            text=True,
            env=self.tool_env(kubeconfig),
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise CommandError(argv, result)
        return result

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this API server (admin kubeconfig unless one is given)."""
        return self._run(
            [str(self.tools.kubectl), *args],
            kubeconfig=kubeconfig,
            input=input,
            check=check,
            timeout=timeout,
        )

    def helm(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 300.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run helm against this API server (admin kubeconfig unless one is given)."""
        return self._run(
            [str(self.tools.helm), *args],
            kubeconfig=kubeconfig,
            input=input,
            check=check,
            timeout=timeout,
        )


@contextlib.contextmanager
def running_apiserver(tools: Tools | None = None, **kwargs: Any) -> Iterator[KubeAPIServer]:
    """Context manager form: ``with running_apiserver() as kube: ...``."""
    with KubeAPIServer(tools or Tools.find(), **kwargs) as kube:
        yield kube
