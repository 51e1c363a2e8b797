"""A single-node Kubernetes cluster on this machine, from real components.

``scoreboard-cluster up`` (``make cluster-up``) starts, as host processes that outlive the
command: containerd (Debian; its own config, socket and state), etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, kubelet and kube-proxy (one Kubernetes version, built
by ``scripts/tools.sh`` and ``scripts/cluster-tools.sh``), CoreDNS for ``cluster.local`` and
Traefik as the ingress controller. Pods get addresses on the ``cni0`` bridge (Debian's CNI
plugins); the node's address is the bridge's gateway, so the control plane, DNS and the
ingress controller are reachable from pods and from the host, and nothing listens beyond the
bridge and loopback. ``scoreboard-cluster down`` stops everything and removes what ``up``
made (pods, mounts, network namespaces, iptables rules, the state directory).

NetworkPolicies are enforced by kube-router's firewall (host process, iptables + ipset through
br_netfilter). Not here, by design: a cloud or storage provisioner (the chart's bundled databases
run with ``persistence.enabled=false``), more than one node.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from scoreboard_devstack.pki import (
    APISERVER_DNS_NAMES,
    CertificateAuthority,
    KeyPair,
    write_service_account_keys,
)

REPO_ROOT = Path(__file__).resolve().parents[3]

NODE_NAME = "scoreboard-node"
BRIDGE = "cni0"
POD_CIDR = "10.244.0.0/24"
NODE_IP = "10.244.0.1"  # the bridge's gateway address: reachable from pods and the host
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 23790  # below the ephemeral range, so no test's free_port() takes it
ETCD_PEER_PORT = 23800
COREDNS_HEALTH_PORT = 23801
INGRESS_PORT = int(os.environ.get("SCOREBOARD_CLUSTER_INGRESS_PORT", "18080"))
INGRESS_ADMIN_PORT = 23802
NETWORK_POLICY_HEALTH_PORT = 23803
INGRESS_CLASS = "traefik"
PAUSE_IMAGE = "scoreboard.local/pause:3.10"
CLUSTER_DOMAIN = "cluster.local"

TOOL_VARS = {
    "etcd": "SCOREBOARD_ETCD",
    "kube-apiserver": "SCOREBOARD_KUBE_APISERVER",
    "kube-controller-manager": "SCOREBOARD_KUBE_CONTROLLER_MANAGER",
    "kube-scheduler": "SCOREBOARD_KUBE_SCHEDULER",
    "kubelet": "SCOREBOARD_KUBELET",
    "kube-proxy": "SCOREBOARD_KUBE_PROXY",
    "coredns": "SCOREBOARD_COREDNS",
    "traefik": "SCOREBOARD_TRAEFIK",
    "kube-router": "SCOREBOARD_KUBE_ROUTER",
    "kubectl": "SCOREBOARD_KUBECTL",
    "helm": "SCOREBOARD_HELM",
}
# Started in this order, stopped in the reverse one.
COMPONENTS = (
    "containerd",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kube-router",
    "coredns",
    "traefik",
)


class ClusterError(RuntimeError):
    """The cluster could not be brought up (the message names the component and its log)."""


def default_root() -> Path:
    return Path(os.environ.get("SCOREBOARD_CLUSTER_DIR") or REPO_ROOT / ".cluster")


def find_tools(env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Tool paths from ``SCOREBOARD_*`` variables or the env files the tool scripts write."""
    env = os.environ if env is None else env
    cache = Path(env.get("SCOREBOARD_CACHE") or REPO_ROOT / ".cache")
    from_files: dict[str, str] = {}
    for name in ("env.sh", "cluster-env.sh"):
        path = cache / "tools" / name
        if path.is_file():
            from_files.update(_parse_env_file(path))
    tools: dict[str, Path] = {}
    missing: list[str] = []
    for tool, var in TOOL_VARS.items():
        value = env.get(var) or from_files.get(var)
        if not value or not os.access(value, os.X_OK):
            missing.append(f"{tool} ({var})")
            continue
        tools[tool] = Path(value)
    for binary in ("containerd", "ctr", "runc", "iptables", "ip", "docker"):
        found = shutil.which(binary)
        if found is None:
            missing.append(binary)
        else:
            tools[binary] = Path(found)
    if missing:
        raise ClusterError(
            "missing: "
            + ", ".join(missing)
            + " (run scripts/tools.sh and scripts/cluster-tools.sh)"
        )
    return tools


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip().removeprefix("export ")
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, raw = line.partition("=")
        parts = shlex.split(raw)
        values[name.strip()] = parts[0] if parts else ""
    return values


class ComponentExitedError(ClusterError):
    """A component's process is gone: waiting longer for it is pointless."""


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until true; any error but ``ComponentExitedError`` means "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except ComponentExitedError:
            raise
        except Exception:  # noqa: S110 - a server still starting answers with errors
            pass
        if time.monotonic() > deadline:
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def run(
    argv: Sequence[str | Path],
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> str:
    """Run a command and return its stdout; raise ``ClusterError`` when it fails."""
    result = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=False, env=env, input=input
    )
    if check and result.returncode != 0:
        raise ClusterError(
            f"{shlex.join(map(str, argv))} exited {result.returncode}: "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return result.stdout


@dataclass(frozen=True)
class Layout:
    """Where everything of one cluster lives."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def containerd_socket(self) -> Path:
        return self.run / "containerd.sock"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def kubeconfig(self, name: str) -> Path:
        return self.config / f"{name}.kubeconfig"

    def pid_file(self, component: str) -> Path:
        return self.run / f"{component}.pid"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"


class Cluster:
    def __init__(self, root: Path | None = None, tools: Mapping[str, Path] | None = None) -> None:
        self.layout = Layout((root or default_root()).resolve())
        self._tools = dict(tools) if tools is not None else None

    @property
    def tools(self) -> dict[str, Path]:
        if self._tools is None:
            self._tools = find_tools()
        return self._tools

    @property
    def server(self) -> str:
        return f"https://{NODE_IP}:{APISERVER_PORT}"

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{INGRESS_PORT}"

    # ------------------------------------------------------------------ state

    def pid(self, component: str) -> int | None:
        try:
            pid = int(self.layout.pid_file(component).read_text())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def running(self) -> dict[str, bool]:
        return {c: self.pid(c) is not None for c in COMPONENTS}

    def healthy(self) -> bool:
        if not all(self.running().values()):
            return False
        try:
            return self.kubectl("get", "--raw", "/readyz").strip() == "ok"
        except ClusterError:
            return False

    # ------------------------------------------------------------------ commands

    def tool_env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.layout.admin_kubeconfig)}

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return run([self.tools["kubectl"], *args], env=self.tool_env(), input=stdin)

    def helm(self, *args: str) -> str:
        return run([self.tools["helm"], *args], env=self.tool_env())

    def ctr(self, *args: str) -> str:
        return run(
            [self.tools["ctr"], "--address", self.layout.containerd_socket, "-n", "k8s.io", *args]
        )

    # ------------------------------------------------------------------ up

    def up(self, images: Sequence[str] = (), timeout: float = 240.0) -> None:
        """Start every component (idempotent: a healthy cluster is left as it is), then load
        ``images`` from the Docker engine into the node's containerd."""
        if self.healthy():
            self.load_images(images)
            return
        self.down()
        for directory in (self.layout.pki, self.layout.run, self.layout.logs, self.layout.config):
            directory.mkdir(parents=True, exist_ok=True)
        self.layout.root.chmod(0o755)
        try:
            self._write_pki()
            self._network()
            self._start_containerd()
            self._start_control_plane(timeout)
            self._bootstrap_objects()
            self._start_node(timeout)
            self._start_addons(timeout)
            self.load_images([PAUSE_IMAGE, *images])
            wait_until(self._node_ready, timeout, f"node {NODE_NAME} Ready")
            stopped = [c for c, alive in self.running().items() if not alive]
            if stopped:
                raise ClusterError(f"not running: {', '.join(stopped)} (see {self.layout.logs})")
        except BaseException:
            self._print_logs()
            raise

    def _print_logs(self) -> None:
        for component in COMPONENTS:
            log = self.layout.log(component)
            if log.exists() and self.pid(component) is None:
                tail = log.read_text(errors="replace").splitlines()[-15:]
                click.echo(f"--- {component} (not running), {log}:", err=True)
                click.echo("\n".join(tail), err=True)

    def _spawn(self, component: str, argv: Sequence[str | Path]) -> None:
        log = open(self.layout.log(component), "ab")  # noqa: SIM115 - handed to the child
        with log:
            process = subprocess.Popen(
                [str(a) for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives `scoreboard-cluster up`
                cwd=self.layout.root,
            )
        self.layout.pid_file(component).write_text(str(process.pid))

    def _alive(self, component: str) -> Callable[[], bool]:
        def check() -> bool:
            if self.pid(component) is None:
                raise ComponentExitedError(f"{component} exited; see {self.layout.log(component)}")
            return True

        return check

    def _write_pki(self) -> None:
        pki = self.layout.pki
        ca = CertificateAuthority(pki, common_name="scoreboard-cluster-ca", days=30)
        self.ca = ca
        ca.issue(
            "apiserver",
            common_name="kube-apiserver",
            server=True,
            dns_names=APISERVER_DNS_NAMES,
            ip_addresses=["127.0.0.1", NODE_IP, KUBERNETES_SERVICE_IP],
        )
        ca.issue(
            "apiserver-kubelet-client",
            common_name="kube-apiserver-kubelet-client",
            organizations=["system:masters"],
            client=True,
        )
        ca.issue("kubelet", common_name=NODE_NAME, server=True, ip_addresses=[NODE_IP])
        users = {
            "admin": ("scoreboard-admin", ["system:masters"]),
            "kube-controller-manager": ("system:kube-controller-manager", []),
            "kube-scheduler": ("system:kube-scheduler", []),
            "kubelet": (f"system:node:{NODE_NAME}", ["system:nodes"]),
            "kube-proxy": ("system:kube-proxy", []),
        }
        for name, (user, groups) in users.items():
            pair = ca.issue(f"{name}-client", common_name=user, organizations=groups, client=True)
            path = self.layout.admin_kubeconfig if name == "admin" else self.layout.kubeconfig(name)
            self._write_kubeconfig(
                path, name, {"client-certificate": str(pair.cert), "client-key": str(pair.key)}
            )
        # Bearer tokens for the add-ons (least privilege, see _bootstrap_objects).
        tokens = {
            "coredns": "scoreboard:coredns",
            "traefik": "scoreboard:ingress-controller",
            "kube-router": "scoreboard:network-policy",
        }
        lines = []
        for name, user in tokens.items():
            token = secrets.token_urlsafe(32)
            lines.append(f"{token},{user},{user}")
            self._write_kubeconfig(self.layout.kubeconfig(name), name, {"token": token})
            (pki / f"{name}.token").write_text(token)
            (pki / f"{name}.token").chmod(0o600)
        (pki / "tokens.csv").write_text("\n".join(lines) + "\n")
        (pki / "tokens.csv").chmod(0o600)
        write_service_account_keys(pki)

    def _write_kubeconfig(self, path: Path, user: str, credentials: dict[str, str]) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "scoreboard",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.layout.pki / "ca.crt"),
                    },
                }
            ],
            "users": [{"name": user, "user": credentials}],
            "contexts": [
                {"name": "scoreboard", "context": {"cluster": "scoreboard", "user": user}}
            ],
            "current-context": "scoreboard",
        }
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)

    def _network(self) -> None:
        """The bridge with the node's address, forwarding on, and the CNI config."""
        ip = self.tools["ip"]
        if run([ip, "link", "show", BRIDGE], check=False) == "":
            run([ip, "link", "add", BRIDGE, "type", "bridge"])
        if NODE_IP not in run([ip, "-4", "addr", "show", BRIDGE]):
            run([ip, "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE])
        run([ip, "link", "set", BRIDGE, "up"])
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
        # Bridged pod-to-pod traffic through iptables: NetworkPolicies apply to it.
        Path("/proc/sys/net/bridge/bridge-nf-call-iptables").write_text("1\n")
        # Docker sets the FORWARD policy to DROP: let pod traffic through the bridge.
        for direction in ("-i", "-o"):
            rule = [
                "FORWARD",
                direction,
                BRIDGE,
                "-j",
                "ACCEPT",
                "-m",
                "comment",
                "--comment",
                "scoreboard-cluster",
            ]
            present = subprocess.run(
                [str(self.tools["iptables"]), "-C", *rule], capture_output=True, check=False
            )
            if present.returncode != 0:
                run([self.tools["iptables"], "-I", *rule])
        cni = self.layout.config / "cni"
        cni.mkdir(exist_ok=True)
        conflist = {
            "cniVersion": "0.4.0",
            "name": "scoreboard",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": True,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.layout.root / "cni-ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (cni / "10-scoreboard.conflist").write_text(json.dumps(conflist, indent=2))

    def _start_containerd(self) -> None:
        root = self.layout.root / "containerd"
        config = self.layout.config / "containerd.toml"
        config.write_text(
            f"""version = 2
root = "{root}/root"
state = "{root}/state"
[grpc]
  address = "{self.layout.containerd_socket}"
[ttrpc]
  address = "{self.layout.containerd_socket}.ttrpc"
[debug]
  level = "warn"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # The machine lacks CAP_SYS_RESOURCE: only ever raise oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{self.layout.config / "cni"}"
"""
        )
        self._spawn("containerd", [self.tools["containerd"], "--config", config])
        wait_until(
            lambda: self._alive("containerd")() and self.layout.containerd_socket.exists(),
            60,
            "containerd's socket",
        )

    def _start_control_plane(self, timeout: float) -> None:
        pki = self.layout.pki
        etcd_url = f"http://127.0.0.1:{ETCD_CLIENT_PORT}"
        peer_url = f"http://127.0.0.1:{ETCD_PEER_PORT}"
        self._spawn(
            "etcd",
            [
                self.tools["etcd"],
                "--name=scoreboard",
                f"--data-dir={self.layout.root / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=scoreboard={peer_url}",
                "--unsafe-no-fsync=true",  # a test cluster: speed over durability
                "--log-level=warn",
            ],
        )
        wait_until(
            lambda: self._alive("etcd")() and httpx.get(f"{etcd_url}/health").status_code == 200,
            60,
            "etcd",
        )
        self._spawn(
            "kube-apiserver",
            [
                self.tools["kube-apiserver"],
                f"--bind-address={NODE_IP}",
                f"--advertise-address={NODE_IP}",
                f"--secure-port={APISERVER_PORT}",
                f"--cert-dir={self.layout.root / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                f"--kubelet-certificate-authority={pki / 'ca.crt'}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--token-auth-file={pki / 'tokens.csv'}",
                f"--etcd-servers={etcd_url}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                "--allow-privileged=false",
                f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--profiling=false",
                "--v=1",
            ],
        )
        wait_until(
            lambda: self._alive("kube-apiserver")()
            and self.kubectl("get", "--raw", "/readyz").strip() == "ok",
            timeout,
            "kube-apiserver /readyz",
        )
        common = ["--bind-address=127.0.0.1", "--leader-elect=false", "--profiling=false"]
        kcm = self.layout.kubeconfig("kube-controller-manager")
        self._spawn(
            "kube-controller-manager",
            [
                self.tools["kube-controller-manager"],
                *common,
                f"--kubeconfig={kcm}",
                f"--authentication-kubeconfig={kcm}",
                f"--authorization-kubeconfig={kcm}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--v=1",
            ],
        )
        scheduler = self.layout.kubeconfig("kube-scheduler")
        self._spawn(
            "kube-scheduler",
            [
                self.tools["kube-scheduler"],
                *common,
                f"--kubeconfig={scheduler}",
                f"--authentication-kubeconfig={scheduler}",
                f"--authorization-kubeconfig={scheduler}",
                "--v=1",
            ],
        )

    def _bootstrap_objects(self) -> None:
        """RBAC of the add-ons (read what they serve, nothing else) and the IngressClass."""
        manifest = {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                _cluster_role(
                    "scoreboard:coredns",
                    [
                        (
                            ["", "discovery.k8s.io"],
                            ["endpoints", "endpointslices", "services", "pods", "namespaces"],
                            ["list", "watch"],
                        ),
                    ],
                ),
                _cluster_role(
                    "scoreboard:ingress-controller",
                    [
                        (
                            [""],
                            ["services", "endpoints", "secrets", "nodes"],
                            ["get", "list", "watch"],
                        ),
                        (["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
                        (
                            ["networking.k8s.io"],
                            ["ingresses", "ingressclasses"],
                            ["get", "list", "watch"],
                        ),
                        (["networking.k8s.io"], ["ingresses/status"], ["update"]),
                    ],
                ),
                _cluster_role(
                    "scoreboard:network-policy",
                    [
                        (
                            [""],
                            ["pods", "namespaces", "nodes", "services", "endpoints"],
                            ["get", "list", "watch"],
                        ),
                        (["networking.k8s.io"], ["networkpolicies"], ["list", "watch"]),
                        (["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
                    ],
                ),
                _cluster_role_binding("scoreboard:network-policy"),
                _cluster_role_binding("scoreboard:coredns"),
                _cluster_role_binding("scoreboard:ingress-controller"),
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "IngressClass",
                    "metadata": {
                        "name": INGRESS_CLASS,
                        "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
                    },
                    "spec": {"controller": "traefik.io/ingress-controller"},
                },
            ],
        }
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))

    def _start_node(self, timeout: float) -> None:
        kubelet_dir = self.layout.root / "kubelet"
        kubelet_dir.mkdir(exist_ok=True)
        resolv = self.layout.config / "resolv.conf"
        resolv.write_text("")  # pods resolve only the cluster's names
        pki = self.layout.pki
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "healthzBindAddress": "127.0.0.1",
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(pki / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": str(pki / "kubelet.crt"),
            "tlsPrivateKeyFile": str(pki / "kubelet.key"),
            "cgroupDriver": "cgroupfs",
            "failSwapOn": False,
            "enforceNodeAllocatable": [],
            "localStorageCapacityIsolation": False,
            "containerRuntimeEndpoint": f"unix://{self.layout.containerd_socket}",
            "clusterDNS": [NODE_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            "resolvConf": str(resolv),
            "serializeImagePulls": False,
            # A shared test machine: evict only when truly out of room, never collect images
            # (they cannot be pulled again: there is no registry).
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "maxPods": 60,
        }
        path = self.layout.config / "kubelet.yaml"
        path.write_text(json.dumps(config, indent=2))
        self._spawn(
            "kubelet",
            [
                self.tools["kubelet"],
                f"--config={path}",
                f"--kubeconfig={self.layout.kubeconfig('kubelet')}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                f"--root-dir={kubelet_dir}",
                f"--cert-dir={kubelet_dir / 'pki'}",
                "--v=1",
            ],
        )
        proxy_config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.layout.kubeconfig("kube-proxy"))},
            "hostnameOverride": NODE_NAME,
            "mode": "iptables",
            "clusterCIDR": POD_CIDR,
            # Without br_netfilter a Service answer to a pod on the same bridge would bypass
            # the host; masquerading every Service connection routes replies back through it.
            "iptables": {"masqueradeAll": True},
            "conntrack": {
                "maxPerCore": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249",
        }
        proxy_path = self.layout.config / "kube-proxy.yaml"
        proxy_path.write_text(json.dumps(proxy_config, indent=2))
        self._spawn("kube-proxy", [self.tools["kube-proxy"], f"--config={proxy_path}", "--v=1"])
        wait_until(
            lambda: self._alive("kubelet")()
            and NODE_NAME in self.kubectl("get", "nodes", "-o", "name"),
            timeout,
            "the node to register",
        )
        # NetworkPolicies (it needs the Node object): kube-router's firewall alone (the bridge
        # CNI keeps routing, kube-proxy keeps Services); it filters bridged pod traffic through
        # br_netfilter.
        self._spawn(
            "kube-router",
            [
                self.tools["kube-router"],
                "--run-firewall=true",
                "--run-router=false",
                "--run-service-proxy=false",
                f"--kubeconfig={self.layout.kubeconfig('kube-router')}",
                f"--hostname-override={NODE_NAME}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--metrics-port=0",
                f"--health-port={NETWORK_POLICY_HEALTH_PORT}",
                "--v=1",
            ],
        )
        wait_until(
            lambda: self._alive("kube-router")()
            and httpx.get(f"http://127.0.0.1:{NETWORK_POLICY_HEALTH_PORT}/healthz").status_code
            == 200,
            timeout,
            "kube-router /healthz",
        )

    def _start_addons(self, timeout: float) -> None:
        corefile = self.layout.config / "Corefile"
        corefile.write_text(
            f""".:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:{COREDNS_HEALTH_PORT}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {self.layout.kubeconfig("coredns")} scoreboard
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""
        )
        self._spawn("coredns", [self.tools["coredns"], "-conf", corefile])
        token = (self.layout.pki / "traefik.token").read_text()
        self._spawn(
            "traefik",
            [
                self.tools["traefik"],
                f"--entryPoints.web.address=127.0.0.1:{INGRESS_PORT}",
                f"--entryPoints.traefik.address=127.0.0.1:{INGRESS_ADMIN_PORT}",
                "--ping=true",
                "--providers.kubernetesIngress=true",
                f"--providers.kubernetesIngress.endpoint={self.server}",
                f"--providers.kubernetesIngress.token={token}",
                f"--providers.kubernetesIngress.certAuthFilePath={self.layout.pki / 'ca.crt'}",
                "--global.checkNewVersion=false",
                "--global.sendAnonymousUsage=false",
                "--log.level=INFO",
            ],
        )
        wait_until(
            lambda: self._alive("coredns")()
            and httpx.get(f"http://127.0.0.1:{COREDNS_HEALTH_PORT}/health").status_code == 200,
            timeout,
            "CoreDNS /health",
        )
        wait_until(
            lambda: self._alive("traefik")()
            and httpx.get(f"http://127.0.0.1:{INGRESS_ADMIN_PORT}/ping").status_code == 200,
            timeout,
            "Traefik /ping",
        )

    def _node_ready(self) -> bool:
        node = json.loads(self.kubectl("get", "node", NODE_NAME, "-o", "json"))
        return any(
            c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"]
        )

    def load_images(self, images: Sequence[str]) -> None:
        """Copy images from the Docker engine into the node's containerd (``docker save`` ->
        ``ctr images import``): pods use them with ``imagePullPolicy: Never``/``IfNotPresent``."""
        if not images:
            return
        with tempfile.TemporaryDirectory(prefix="scoreboard-images-") as tmp:
            archive = Path(tmp) / "images.tar"
            run([self.tools["docker"], "save", "-o", archive, *images])
            self.ctr("images", "import", str(archive))

    # ------------------------------------------------------------------ down

    def down(self) -> None:
        """Stop every component, remove the pods' containers, mounts, network namespaces,
        iptables rules and the state directory."""
        for component in ("traefik", "coredns", "kube-proxy", "kubelet"):
            self._stop(component)
        if self.pid("containerd") is not None:
            self._remove_containers()
        for component in reversed(COMPONENTS):
            self._stop(component)
        self._unmount_all()
        self._cleanup_network()
        if self.layout.root.exists():
            shutil.rmtree(self.layout.root, ignore_errors=True)

    def _stop(self, component: str, timeout: float = 5.0) -> None:
        pid = self.pid(component)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid(component) is not None:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)

    def _remove_containers(self) -> None:
        with contextlib.suppress(ClusterError):
            for line in self.ctr("tasks", "ls", "-q").split():
                with contextlib.suppress(ClusterError):
                    self.ctr("tasks", "kill", "-s", "SIGKILL", line)
            time.sleep(0.5)
            for line in self.ctr("tasks", "ls", "-q").split():
                with contextlib.suppress(ClusterError):
                    self.ctr("tasks", "delete", "-f", line)
            for line in self.ctr("containers", "ls", "-q").split():
                with contextlib.suppress(ClusterError):
                    self.ctr("containers", "delete", line)
        # The shims outlive containerd when it stops first; they were started from its root.
        run(
            [
                "pkill",
                "-9",
                "-f",
                f"containerd-shim-runc-v2 -namespace k8s.io -address "
                f"{self.layout.containerd_socket}",
            ],
            check=False,
        )

    def _unmount_all(self) -> None:
        root = str(self.layout.root)
        mounts = [
            line.split()[1]
            for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(root + "/")
            or line.split()[1].startswith("/run/netns/cni-")
            or line.split()[1].startswith("/var/run/netns/cni-")
        ]
        for mount in sorted(mounts, key=len, reverse=True):
            run(["umount", "-l", mount], check=False)
        for netns in Path("/var/run/netns").glob("cni-*"):
            with contextlib.suppress(OSError):
                netns.unlink()

    def _cleanup_network(self) -> None:
        if self._try_tools():
            run([self.tools["kube-proxy"], "--cleanup"], check=False)
            run([self.tools["kube-router"], "--cleanup-config"], check=False)
        iptables = shutil.which("iptables") or "iptables"
        for direction in ("-i", "-o"):
            while (
                subprocess.run(
                    [
                        iptables,
                        "-D",
                        "FORWARD",
                        direction,
                        BRIDGE,
                        "-j",
                        "ACCEPT",
                        "-m",
                        "comment",
                        "--comment",
                        "scoreboard-cluster",
                    ],
                    capture_output=True,
                    check=False,
                ).returncode
                == 0
            ):
                pass
        # The bridge plugin's masquerade chains (CNI-xxxx) of pods that are gone.
        rules = run([iptables, "-t", "nat", "-S", "POSTROUTING"], check=False)
        for rule in rules.splitlines():
            if "CNI-" in rule and rule.startswith("-A "):
                run([iptables, "-t", "nat", *shlex.split("-D " + rule[3:])], check=False)
        for chain in run([iptables, "-t", "nat", "-S"], check=False).splitlines():
            if chain.startswith("-N CNI-"):
                name = chain.split()[1]
                run([iptables, "-t", "nat", "-F", name], check=False)
                run([iptables, "-t", "nat", "-X", name], check=False)
        self._remove_chains(iptables)
        ipset = shutil.which("ipset")
        if ipset is not None:  # kube-router's sets of pod addresses
            for name in run([ipset, "list", "-n"], check=False).split():
                if name.startswith("KUBE-"):
                    run([ipset, "destroy", name], check=False)
        ip = shutil.which("ip") or "ip"
        run([ip, "link", "delete", BRIDGE], check=False)

    @staticmethod
    def _remove_chains(iptables: str) -> None:
        """What kube-router and the kubelet leave in the filter table: the jumps from the
        built-in chains first, then their chains."""
        ours = (
            "KUBE-ROUTER-",
            "KUBE-NWPLCY-",
            "KUBE-POD-FW-",
            "KUBE-SRC-",
            "KUBE-DST-",
            "KUBE-FIREWALL",
            "KUBE-KUBELET-CANARY",
        )
        rules = run([iptables, "-S"], check=False).splitlines()
        for rule in rules:
            parts = shlex.split(rule)
            if parts[:1] == ["-A"] and parts[1] in ("INPUT", "FORWARD", "OUTPUT") and "-j" in parts:
                target = parts[parts.index("-j") + 1]
                if target.startswith(ours):
                    run([iptables, "-D", *parts[1:]], check=False)
        chains = [
            r.split()[1] for r in rules if r.startswith("-N ") and r.split()[1].startswith(ours)
        ]
        for chain in chains:
            run([iptables, "-F", chain], check=False)
        for chain in chains:
            run([iptables, "-X", chain], check=False)

    def _try_tools(self) -> bool:
        try:
            _ = self.tools
        except ClusterError:
            return False
        return True


def _cluster_role(
    name: str, rules: list[tuple[list[str], list[str], list[str]]]
) -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [
            {"apiGroups": groups, "resources": resources, "verbs": verbs}
            for groups, resources, verbs in rules
        ],
    }


def _cluster_role_binding(name: str) -> dict[str, object]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}],
    }


# ---------------------------------------------------------------------- CLI


@click.group()
@click.option(
    "--dir",
    "root",
    type=click.Path(path_type=Path),
    default=None,
    help="State directory (default: .cluster/ or $SCOREBOARD_CLUSTER_DIR).",
)
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """A single-node Kubernetes cluster on this machine (needs root)."""
    ctx.obj = Cluster(root)


@main.command()
@click.option("--image", "images", multiple=True, help="Docker image to load into the node.")
@click.pass_obj
def up(cluster: Cluster, images: tuple[str, ...]) -> None:
    """Start the cluster (or keep the running one) and load images."""
    started = time.monotonic()
    try:
        cluster.up(images)
    except ClusterError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"cluster ready in {time.monotonic() - started:.0f}s")
    click.echo(f"  export KUBECONFIG={cluster.layout.admin_kubeconfig}")
    click.echo(f"  ingress: {cluster.ingress_url} (IngressClass {INGRESS_CLASS})")


@main.command()
@click.pass_obj
def down(cluster: Cluster) -> None:
    """Stop the cluster and remove everything it made."""
    cluster.down()
    click.echo("cluster removed")


@main.command()
@click.pass_obj
def status(cluster: Cluster) -> None:
    """Which components run, and whether the API answers."""
    for component, alive in cluster.running().items():
        click.echo(f"{component:<24} {'running' if alive else 'stopped'}")
    click.echo(f"healthy: {cluster.healthy()}")


@main.command("load")
@click.argument("images", nargs=-1, required=True)
@click.pass_obj
def load(cluster: Cluster, images: tuple[str, ...]) -> None:
    """Load Docker images into the node's containerd."""
    cluster.load_images(images)


__all__ = ["Cluster", "ClusterError", "KeyPair", "main"]
