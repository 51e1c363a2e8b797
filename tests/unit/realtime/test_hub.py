"""The fan-out hub without sockets: fake snapshot/policy sources and fake client sinks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
import pytest
from prometheus_client import REGISTRY
from scoreboard_common.board_store import Entry, TopSnapshot
from scoreboard_common.events import BoardChanged, ScoreChanged
from scoreboard_common.policy import PublicPolicy, decode_public_policy
from scoreboard_realtime.domain.hub import Hub
from scoreboard_realtime.domain.messages import Outgoing

from tests.support import wait_for_async

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def policy(**spec: object) -> PublicPolicy:
    base: dict[str, object] = {"board": "b", "size": 3, "broadcast": {"minIntervalMs": 20}}
    base.update(spec)
    import msgspec

    return decode_public_policy(msgspec.json.encode(base))


class FakeBoards:
    """Snapshot and policy source: a mutable in-memory board, counting reads."""

    def __init__(self) -> None:
        self.scores: dict[str, int] = {}
        self.version = 1
        self.reads = 0
        self.policies: dict[str, PublicPolicy | None] = {"b": policy()}
        self.fail = False
        self.override_version: int | None = None

    def set(self, user: str, score: int) -> None:
        self.scores[user] = score
        self.version += 1

    async def top(self, board: str, limit: int) -> TopSnapshot:
        self.reads += 1
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("redis down")
        ranked = sorted(self.scores.items(), key=lambda kv: (-kv[1], kv[0]))
        entries = [
            Entry(rank=i, user_id=u, username=u.upper(), score=s, last_updated=NOW)
            for i, (u, s) in enumerate(ranked[:limit], 1)
        ]
        version = self.version if self.override_version is None else self.override_version
        return TopSnapshot(
            leaderboard=board, season=1, version=version, total_players=len(ranked), entries=entries
        )

    async def get(self, board: str) -> PublicPolicy | None:
        return self.policies.get(board)


class Sink:
    def __init__(self, *, blocked: bool = False) -> None:
        self.texts: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.gate = asyncio.Event()
        if not blocked:
            self.gate.set()

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.texts.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def decoded(self) -> list[dict[str, object]]:
        import json

        return [json.loads(t) for t in self.texts]


@pytest.fixture
async def setup() -> tuple[Hub, FakeBoards]:
    boards = FakeBoards()
    hub = Hub(boards, boards, send_timeout=0.3)
    hub.start()
    yield hub, boards
    await hub.stop()


async def until(predicate: Callable[[], object], timeout: float = 2.0) -> None:
    await wait_for_async(predicate, timeout, "the hub", interval=0.005)


def score_event(user: str, total: int, version: int, board: str = "b") -> ScoreChanged:
    return ScoreChanged(
        board=board,
        season=1,
        version=version,
        user_id=user,
        username=user,
        total=total,
        rank=1,
        increment=1,
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_snapshot_on_connect_then_coalesced_broadcast(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    sinks = [Sink() for _ in range(5)]
    for sink in sinks:
        hub.register("b", policy(), None, sink)
    await until(lambda: all(len(s.texts) == 1 for s in sinks))
    assert sinks[0].decoded()[0]["type"] == "snapshot"
    reads_before = boards.reads

    for i in range(100):  # a burst of events: one read per interval, not per event or client
        boards.set(f"u{i % 7}", i)
        hub.on_event(score_event(f"u{i % 7}", i, boards.version))
    await until(lambda: all(len(s.texts) == 2 for s in sinks))
    await asyncio.sleep(0.1)
    assert boards.reads - reads_before <= 2
    assert all(len(s.texts) == 2 for s in sinks)
    # Encoded once: every client got the very same string object.
    assert len({id(s.texts[1]) for s in sinks}) == 1
    last = sinks[0].decoded()[1]
    assert last["version"] == boards.version
    assert [e["user_id"] for e in last["entries"]] == ["u1", "u0", "u6"]  # type: ignore[index]


async def test_no_broadcast_when_top_n_unchanged(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    for user, score in {"a": 100, "b": 90, "c": 80}.items():
        boards.set(user, score)
    sink = Sink()
    hub.register("b", policy(), None, sink)
    await until(lambda: len(sink.texts) == 1)
    boards.set("d", 1)  # below the top 3: version grows, top N does not change
    hub.on_event(score_event("d", 1, boards.version))
    await asyncio.sleep(0.1)
    assert len(sink.texts) == 1
    boards.set("d", 95)
    hub.on_event(score_event("d", 95, boards.version))
    await until(lambda: len(sink.texts) == 2)


async def test_joiner_served_from_cache_without_a_read(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    first = Sink()
    hub.register("b", policy(), None, first)
    await until(lambda: len(first.texts) == 1)
    reads = boards.reads
    late = [Sink() for _ in range(20)]
    for sink in late:
        hub.register("b", policy(), None, sink)
    await until(lambda: all(len(s.texts) == 1 for s in late))
    assert boards.reads == reads
    assert late[0].texts[0] is first.texts[0]


async def test_slow_client_gets_newest_only_and_never_delays_others(
    setup: tuple[Hub, FakeBoards],
) -> None:
    hub, boards = setup
    hub.send_timeout = 30  # not dropped in this test
    slow, fast = Sink(blocked=True), Sink()
    hub.register("b", policy(), None, slow)
    hub.register("b", policy(), None, fast)
    await until(lambda: len(fast.texts) == 1)
    for round_ in range(5):
        boards.set("u", 10 + round_)
        hub.on_event(score_event("u", 10 + round_, boards.version))
        await until(lambda r=round_: len(fast.texts) == 2 + r)
    slow.gate.set()
    await until(lambda: len(slow.texts) == 2)
    await asyncio.sleep(0.05)
    # The first snapshot was in flight; of the five later ones only the newest is left.
    versions = [m["version"] for m in slow.decoded()]
    assert versions == [fast.decoded()[0]["version"], boards.version]


async def test_stuck_client_is_dropped(setup: tuple[Hub, FakeBoards]) -> None:
    hub, _ = setup
    before = metric("scoreboard_ws_slow_client_drops_total", board="b")
    stuck, ok = Sink(blocked=True), Sink()
    stuck_client = hub.register("b", policy(), None, stuck)
    hub.register("b", policy(), None, ok)
    await until(lambda: stuck.closed is not None, timeout=3)
    assert stuck.closed == (1008, "client too slow")
    assert stuck_client not in hub.channels["b"].clients
    assert len(ok.texts) == 1 and ok.closed is None
    assert metric("scoreboard_ws_slow_client_drops_total", board="b") == before + 1


async def test_versions_never_go_backwards(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    boards.set("a", 5)
    sink = Sink()
    hub.register("b", policy(), None, sink)
    await until(lambda: len(sink.texts) == 1)
    boards.scores["a"] = 50
    boards.override_version = 0  # e.g. Redis lost its data and nobody rebuilt it yet
    hub.on_event(score_event("a", 50, 0))
    await asyncio.sleep(0.1)
    assert len(sink.texts) == 1
    late = Sink()
    hub.register("b", policy(), None, late)
    await until(lambda: len(late.texts) == 1)
    assert late.decoded()[0]["version"] == sink.decoded()[0]["version"]
    boards.override_version = None
    boards.set("a", 60)
    hub.on_event(score_event("a", 60, boards.version))
    await until(lambda: len(sink.texts) == 2)
    assert sink.decoded()[1]["version"] > sink.decoded()[0]["version"]


async def test_rank_messages_only_to_the_player(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    alice, bob, anon = Sink(), Sink(), Sink()
    hub.register("b", policy(), "alice", alice)
    hub.register("b", policy(), "bob", bob)
    hub.register("b", policy(), None, anon)
    await until(lambda: all(len(s.texts) == 1 for s in (alice, bob, anon)))
    boards.set("alice", 7)
    hub.on_event(score_event("alice", 7, boards.version))
    await until(lambda: len(alice.texts) == 3)
    kinds = sorted(m["type"] for m in alice.decoded()[1:])
    assert kinds == ["rank", "snapshot"]
    rank = next(m for m in alice.decoded() if m["type"] == "rank")
    assert rank == {"type": "rank", "user_id": "alice", "rank": 1, "score": 7}
    await asyncio.sleep(0.05)
    assert [m["type"] for m in bob.decoded()] == ["snapshot", "snapshot"]
    assert [m["type"] for m in anon.decoded()] == ["snapshot", "snapshot"]


async def test_policy_changes_apply_to_connected_clients(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    anon, user = Sink(), Sink()
    hub.register("b", policy(), None, anon)
    hub.register("b", policy(), "alice", user)
    await until(lambda: len(anon.texts) == len(user.texts) == 1)
    boards.policies["b"] = policy(access={"publicRead": True, "anonymousLive": False})
    hub.on_event(BoardChanged(board="b", kind="policy"))
    await until(lambda: anon.closed is not None)
    assert anon.closed == (4403, "sign-in required on this board")
    assert user.closed is None
    boards.policies["b"] = None
    hub.on_event(BoardChanged(board="b", kind="deleted"))
    await until(lambda: user.closed is not None)
    assert user.closed == (4404, "board deleted")
    assert "b" not in hub.channels


async def test_resubscribe_rereads_and_resends_newer_state(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    boards.set("a", 5)
    sink = Sink()
    hub.register("b", policy(), None, sink)
    await until(lambda: len(sink.texts) == 1)
    hub.on_subscription_lost()
    boards.set("z", 1)  # changed while the subscription was down; its event was lost
    hub.on_resubscribed()
    await until(lambda: len(sink.texts) == 2)
    assert sink.decoded()[1]["version"] == boards.version
    assert sink.decoded()[1]["total_players"] == 2


async def test_a_board_missing_after_resubscribing_is_awaited_not_closed() -> None:
    """Redis came back empty: the policy is absent until the api rebuilds it. Clients stay."""
    boards = FakeBoards()
    hub = Hub(boards, boards, send_timeout=0.3, missing_policy_grace=5.0)
    hub.start()
    try:
        sink = Sink()
        hub.register("b", policy(), None, sink)
        await until(lambda: len(sink.texts) == 1)
        hub.on_subscription_lost()
        boards.policies["b"] = None
        hub.on_resubscribed()
        await asyncio.sleep(0.2)
        assert sink.closed is None
        boards.policies["b"] = policy(size=3)  # rebuilt
        boards.set("a", 1)
        await until(lambda: any(m["entries"] for m in sink.decoded()))
        assert sink.closed is None
        assert hub.channels["b"].policy.size == 3
    finally:
        await hub.stop()


async def test_a_board_still_missing_after_the_grace_is_closed_as_deleted() -> None:
    boards = FakeBoards()
    hub = Hub(boards, boards, send_timeout=0.3, missing_policy_grace=0.2)
    hub.start()
    try:
        sink = Sink()
        hub.register("b", policy(), None, sink)
        await until(lambda: len(sink.texts) == 1)
        boards.policies["b"] = None
        hub.on_resubscribed()
        await until(lambda: sink.closed is not None)
        assert sink.closed == (4404, "board deleted")
    finally:
        await hub.stop()


async def test_read_failure_is_retried(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    boards.fail = True
    sink = Sink()
    hub.register("b", policy(), None, sink)
    await asyncio.sleep(0.1)
    assert sink.texts == []
    boards.fail = False
    await until(lambda: len(sink.texts) == 1, timeout=3)


async def test_drain_closes_everyone_with_1001(setup: tuple[Hub, FakeBoards]) -> None:
    hub, _ = setup
    sinks = [Sink() for _ in range(30)]
    for sink in sinks:
        hub.register("b", policy(), None, sink)
    await until(lambda: all(s.texts for s in sinks))
    await hub.drain(0.2)
    assert all(s.closed == (1001, "server shutting down") for s in sinks)
    assert hub.draining and hub.connection_count() == 0


def test_policy_decoding_ignores_unknown_members_and_refuses_out_of_range() -> None:
    raw = b'{"board":"g","displayName":"G","size":50,"access":{"publicRead":true,"anonymousLive":false},"broadcast":{"minIntervalMs":10,"later":1},"extra":1}'
    parsed = decode_public_policy(raw)
    assert parsed.size == 50 and not parsed.anonymous_live_allowed
    assert parsed.broadcast_interval_seconds == 0.01
    for bad in (b'{"board":"g","size":500}', b'{"board":"g","broadcast":{"minIntervalMs":1}}'):
        with pytest.raises(msgspec.ValidationError):
            decode_public_policy(bad)


def test_policy_written_by_the_api_decodes() -> None:
    from scoreboard_common.policy import (
        PublicAccess,
        PublicBroadcast,
        encode_public_policy,
    )

    written = PublicPolicy(
        board="b",
        size=25,
        access=PublicAccess(public_read=True, anonymous_live=False),
        broadcast=PublicBroadcast(min_interval_ms=250),
    )
    parsed = decode_public_policy(encode_public_policy(written))
    assert parsed.size == 25
    assert not parsed.anonymous_live_allowed
    assert parsed.broadcast_interval_seconds == 0.25


class DirectFake(Sink):
    """A DirectSink: takes whole messages synchronously until ``behind`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.behind = False
        self.drained = asyncio.Event()
        self.drained.set()

    def write_now(self, message: Outgoing) -> bool:
        if self.behind:
            self.drained.clear()
            return False
        self.texts.append(message.text)
        return True

    async def writable(self) -> None:
        await self.drained.wait()

    def drain(self) -> None:
        self.behind = False
        self.drained.set()


async def test_direct_sinks_are_written_in_the_broadcast_loop_without_tasks(
    setup: tuple[Hub, FakeBoards],
) -> None:
    hub, boards = setup
    before = metric("scoreboard_ws_messages_sent_total", board="b", type="snapshot")
    sinks = [DirectFake() for _ in range(3)]
    clients = [hub.register("b", policy(), None, sink) for sink in sinks]
    await until(lambda: all(len(s.texts) == 1 for s in sinks))
    assert all(c.task is None for c in clients)
    boards.set("u", 5)
    hub.on_event(score_event("u", 5, boards.version))
    await until(lambda: all(len(s.texts) == 2 for s in sinks))
    assert all(c.task is None for c in clients)
    assert sinks[0].texts[1] is sinks[1].texts[1]  # encoded once
    assert metric("scoreboard_ws_messages_sent_total", board="b", type="snapshot") == before + 6


async def test_direct_sink_behind_gets_only_the_newest_once_drained(
    setup: tuple[Hub, FakeBoards],
) -> None:
    hub, boards = setup
    hub.send_timeout = 30
    slow, fast = DirectFake(), DirectFake()
    slow_client = hub.register("b", policy(), None, slow)
    hub.register("b", policy(), None, fast)
    await until(lambda: len(slow.texts) == 1 and len(fast.texts) == 1)
    slow.behind = True
    for round_ in range(4):
        boards.set("u", 10 + round_)
        hub.on_event(score_event("u", 10 + round_, boards.version))
        await until(lambda r=round_: len(fast.texts) == 2 + r)
    assert slow_client.task is not None and slow_client.sending_since is not None
    slow.drain()
    await until(lambda: len(slow.texts) == 2)
    await until(lambda: slow_client.task is None)
    assert [m["version"] for m in slow.decoded()][-1] == boards.version
    # Caught up: the next broadcast is written directly again.
    boards.set("v", 99)
    hub.on_event(score_event("v", 99, boards.version))
    await until(lambda: len(slow.texts) == 3)
    assert slow_client.task is None


async def test_direct_sink_that_stays_behind_is_dropped(setup: tuple[Hub, FakeBoards]) -> None:
    hub, boards = setup
    before = metric("scoreboard_ws_slow_client_drops_total", board="b")
    stuck, ok = DirectFake(), DirectFake()
    stuck_client = hub.register("b", policy(), None, stuck)
    hub.register("b", policy(), None, ok)
    await until(lambda: len(stuck.texts) == 1)
    stuck.behind = True
    boards.set("u", 7)
    hub.on_event(score_event("u", 7, boards.version))
    await until(lambda: stuck.closed is not None, timeout=3)
    assert stuck.closed == (1008, "client too slow")
    assert stuck_client not in hub.channels["b"].clients
    assert len(ok.texts) == 2 and ok.closed is None
    assert metric("scoreboard_ws_slow_client_drops_total", board="b") == before + 1


async def test_direct_sinks_drain_with_1001_even_when_behind(
    setup: tuple[Hub, FakeBoards],
) -> None:
    hub, boards = setup
    hub.send_timeout = 30
    behind, idle = DirectFake(), DirectFake()
    behind_client = hub.register("b", policy(), None, behind)
    hub.register("b", policy(), None, idle)
    await until(lambda: len(behind.texts) == 1)
    behind.behind = True
    boards.set("u", 3)
    hub.on_event(score_event("u", 3, boards.version))
    await until(lambda: behind_client.task is not None and len(idle.texts) == 2)
    await hub.drain(0.05)
    assert behind.closed == (1001, "server shutting down")
    assert idle.closed == (1001, "server shutting down")
    assert hub.connection_count() == 0
