"""Header bombs and slow clients against both services (DESIGN.md §3 "Abuse resistance"):
request heads are capped as they arrive (431 before they are buffered), a head that does not
arrive in time is answered 408 and closed, idle keep-alive connections are closed."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable

import pytest
from scoreboard_devstack.servers import ServiceProcess

from tests.integration.security.test_login_flood import rss_mib

HEAD_TIMEOUT = 1.0
KEEP_ALIVE = 1


@pytest.fixture(scope="module")
def services(
    start_api: Callable[..., ServiceProcess],
    start_realtime: Callable[..., ServiceProcess],
) -> dict[str, ServiceProcess]:
    timeouts = {
        "HTTP_HEADER_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
        "HTTP_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE),
    }
    return {"api": start_api(**timeouts), "realtime": start_realtime(**timeouts)}


def connect(service: ServiceProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return sock


def read_answer(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes (or ``timeout``)."""
    sock.settimeout(timeout)
    chunks = b""
    try:
        while chunk := sock.recv(65536):
            chunks += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return chunks


def read_one_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """One whole response (head and its Content-Length body), leaving the connection open."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a whole head: {data[:300]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed before the whole body"
        body += chunk
    return head + b"\r\n\r\n" + body


def status_and_code(answer: bytes) -> tuple[int, str | None]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    code = json.loads(body).get("code") if body.startswith(b"{") else None
    return status, code


def stream_head(sock: socket.socket, prefix: bytes, filler: bytes, total: int) -> int:
    """Send ``prefix`` then ``filler`` up to ``total`` bytes, stopping as soon as the server
    answers or stops reading; returns the bytes sent."""
    sock.sendall(prefix)
    sent = len(prefix)
    sock.setblocking(False)
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 5)
            if readable:
                break
            if not writable:
                break  # the server stopped reading: it is not buffering us
            try:
                sent += sock.send(filler[: min(len(filler), total - sent)])
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
    finally:
        sock.setblocking(True)
    return sent


@pytest.mark.parametrize("name", ["api", "realtime"])
@pytest.mark.parametrize(
    "path", ["/healthz", "/ws/v1/leaderboards/default"], ids=["http", "websocket"]
)
def test_an_8_mb_header_is_refused_before_it_is_buffered(
    services: dict[str, ServiceProcess], name: str, path: str
) -> None:
    service = services[name]
    assert service.pid is not None
    before = rss_mib(service.pid)
    upgrade = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    prefix = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + upgrade + b"X-Big: "
    # Four at once, as in the report, each an 8 MB header that never ends.
    sockets = [connect(service) for _ in range(4)]
    try:
        sent = [stream_head(sock, prefix, b"a" * 65536, 8 * 1024 * 1024) for sock in sockets]
        answers = [read_answer(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    grown = rss_mib(service.pid) - before
    print(
        f"\n{name} {path}: 4 x 8 MB headers: sent {max(sent)} bytes at most, RSS +{grown:.1f} MiB"
    )
    for answer in answers:
        assert status_and_code(answer) == (431, "headers_too_large"), answer[:300]
        assert b"application/problem+json" in answer
    assert max(sent) < 8 * 1024 * 1024  # the server answered long before the end
    assert grown < 16, grown


@pytest.mark.parametrize("name", ["api", "realtime"])
@pytest.mark.parametrize(
    "path", ["/healthz", "/ws/v1/leaderboards/default"], ids=["http", "websocket"]
)
def test_20000_headers_are_refused(
    services: dict[str, ServiceProcess], name: str, path: str
) -> None:
    many = b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(20_000))
    with connect(services[name]) as sock:
        stream_head(
            sock, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n", many + b"\r\n", 10**7
        )
        answer = read_answer(sock)
    status, code = status_and_code(answer)
    assert status == 431 and code in {"too_many_headers", "headers_too_large"}, answer[:300]
    # 101 small headers: refused by count alone.
    few = b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(101))
    with connect(services[name]) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + few + b"\r\n")
        assert status_and_code(read_answer(sock)) == (431, "too_many_headers")
    # A long request line is refused alike.
    with connect(services[name]) as sock:
        stream_head(sock, b"GET /" + b"a" * 100_000, b"a", 100_001)
        assert status_and_code(read_answer(sock))[0] == 431


@pytest.mark.parametrize("name", ["api", "realtime"])
def test_slow_and_idle_clients_are_closed(services: dict[str, ServiceProcess], name: str) -> None:
    service = services[name]
    slow = [connect(service) for _ in range(50)]  # half a head, then nothing
    silent = [connect(service) for _ in range(10)]  # not a byte
    idle = connect(service)  # one complete request, then idle on keep-alive
    started = time.monotonic()
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        bound = HEAD_TIMEOUT + KEEP_ALIVE + 10  # generous: a busy machine is slower to answer
        slow_answers = [read_answer(sock, timeout=bound) for sock in slow]
        silent_answers = [read_answer(sock, timeout=bound) for sock in silent]
        idle_answer = read_answer(idle, timeout=bound)
        elapsed = time.monotonic() - started
    finally:
        for sock in [*slow, *silent, idle]:
            sock.close()
    print(
        f"\n{name}: 60 slow clients closed after {elapsed:.1f} s (header timeout {HEAD_TIMEOUT} s)"
    )
    for answer in [*slow_answers, *silent_answers]:
        assert status_and_code(answer) == (408, "header_timeout"), answer[:200]
    assert idle_answer.startswith(b"HTTP/1.1 200"), idle_answer[:200]  # then closed: EOF
    assert elapsed < bound


@pytest.mark.parametrize("name", ["api", "realtime"])
def test_a_client_dripping_blank_lines_between_requests_is_closed(
    services: dict[str, ServiceProcess], name: str
) -> None:
    with connect(services[name]) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        closed_after = None
        sock.settimeout(0.2)
        received = b""
        while time.monotonic() - started < HEAD_TIMEOUT + KEEP_ALIVE + 10:
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    closed_after = time.monotonic() - started
                    break
                received += chunk
            except TimeoutError:
                pass
            try:
                sock.sendall(b"\r\n")  # never a request, never idle either
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    assert closed_after is not None, "the connection was held open"
    print(f"\n{name}: a client dripping blank lines was closed after {closed_after:.1f} s")


def test_the_rest_of_a_body_answered_early_is_not_taken_for_the_next_head(
    services: dict[str, ServiceProcess],
) -> None:
    """A body over the limit is answered 413 from its Content-Length, before it is read; the
    client goes on sending it. Those bytes belong to that request (uvicorn drops them), not to
    the next request's head: the next request on the connection is served, not refused 431."""
    api = services["api"]
    size = 100_000  # over MAX_BODY_BYTES (16 KiB), many times the 8 KiB head limit
    with connect(api) as sock:
        sock.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            + f"content-length: {size}\r\n\r\n".encode()
            + b" " * 1000
        )
        first = read_one_response(sock)  # the 413, sent before the body was read
        assert status_and_code(first) == (413, "body_too_large"), first[:300]
        sock.sendall(b" " * (size - 1000))  # the rest of the body, after the answer
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        second = read_answer(sock)
    assert second.startswith(b"HTTP/1.1 200"), second[:300]
