"""The light receive queue and writable flag of the realtime WebSocket protocol."""

from __future__ import annotations

import asyncio

from scoreboard_realtime.http.protocol import Gate, Mailbox


async def test_mailbox_hands_items_over_in_order_and_wakes_the_reader() -> None:
    box = Mailbox()
    assert box.empty()
    reader = asyncio.ensure_future(box.get())
    await asyncio.sleep(0)
    assert not reader.done()
    box.put_nowait("first")
    box.put_nowait("second")
    assert await reader == "first"
    assert not box.empty()
    assert await box.get() == "second"
    assert box.empty()


async def test_a_cancelled_reader_leaves_the_mailbox_usable() -> None:
    box = Mailbox()
    reader = asyncio.ensure_future(box.get())
    await asyncio.sleep(0)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    box.put_nowait("later")
    assert await asyncio.wait_for(box.get(), 5) == "later"


async def test_gate_blocks_while_closed_and_releases_every_waiter() -> None:
    gate = Gate()
    assert gate.is_set() and await gate.wait()
    gate.clear()
    waiters = [asyncio.ensure_future(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    gate.set()
    assert await asyncio.gather(*waiters) == [True, True, True]


async def test_a_gate_closed_again_before_the_waiter_runs_keeps_it_waiting() -> None:
    gate = Gate()
    gate.clear()
    waiter = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0)
    gate.set()
    gate.clear()
    await asyncio.sleep(0.01)
    assert not waiter.done()
    gate.set()
    assert await asyncio.wait_for(waiter, 5)
