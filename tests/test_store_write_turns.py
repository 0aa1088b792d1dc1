"""Writers of one SQLite file in one process take turns in the order they came.

SQLite's own wait for its write lock is a loop of sleeps: a writer that commits back to back
(the CoT sink under a stream of events) takes the lock again before a sleeper wakes, so a
request's write was refused as busy after its whole wait while the stream went on (seen: a
POST answered 503 during a CoT drain). With the turns, the waiter is next as soon as the
running transaction ends.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.helpers import wait_for
from truceguard.errors import StoreBusyError
from truceguard.store.sqlite import SQLiteStore
from truceguard.store.turns import WriteTurns


def _commit_twice(store: SQLiteStore, inside: threading.Event, errors: list[BaseException]
                  ) -> None:
    """Write "first", hold the transaction until another writer waits, commit, and at once
    write "again" (a writer committing back to back)."""
    try:
        with store.transaction():
            store.execute("INSERT INTO t VALUES ('first')")
            inside.set()
            wait_for(lambda: store._turns.waiting() == 1, timeout=10,
                     what="the other writer waiting for its turn")
        with store.transaction():
            store.execute("INSERT INTO t VALUES ('again')")
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_a_waiting_writer_goes_before_the_next_transaction_of_a_back_to_back_writer(
        tmp_path: Path) -> None:
    """Without the turns the back-to-back writer takes the lock again first, and again:
    beside one committing short transactions in a loop, 6 of 10 writes with a 1 s wait were
    refused as busy."""
    store = SQLiteStore(tmp_path / "turns.db", busy_timeout_s=5.0)
    store.execute("CREATE TABLE t (w TEXT)")
    inside, errors = threading.Event(), []
    other = threading.Thread(target=_commit_twice, args=(store, inside, errors))
    other.start()
    try:
        assert inside.wait(10)
        with store.transaction():
            store.execute("INSERT INTO t VALUES ('waiting')")
    finally:
        other.join()
    assert errors == []
    order = [r[0] for r in store.execute("SELECT w FROM t ORDER BY rowid").fetchall()]
    store.close()
    assert order == ["first", "waiting", "again"]


def test_two_store_objects_on_one_file_share_the_turns(tmp_path: Path) -> None:
    a = SQLiteStore(tmp_path / "shared.db")
    b = SQLiteStore(str(tmp_path / "." / "shared.db"))
    other = SQLiteStore(tmp_path / "other.db")
    try:
        assert a._turns is b._turns
        assert a._turns is not other._turns
    finally:
        for s in (a, b, other):
            s.close()


def test_turns_go_in_the_order_writers_came() -> None:
    turns = WriteTurns()
    assert turns.acquire(1.0)
    order: list[int] = []
    queued = threading.Semaphore(0)

    def writer(k: int) -> None:
        queued.release()
        assert turns.acquire(10.0)
        order.append(k)
        turns.release()

    threads = []
    for k in range(5):  # each one queued before the next starts
        t = threading.Thread(target=writer, args=(k,))
        t.start()
        queued.acquire()
        wait_for(lambda k=k: turns.waiting() == k + 1, what="the writer in the queue")
        threads.append(t)
    turns.release()
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3, 4]


def test_a_writer_that_gives_up_leaves_the_queue_and_the_next_one_goes() -> None:
    turns = WriteTurns()
    assert turns.acquire(1.0)
    assert not turns.acquire(0.05)  # the holder did not finish in time
    assert turns.waiting() == 0
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(turns.acquire(10.0)))
    t.start()
    wait_for(lambda: turns.waiting() == 1, what="the second writer in the queue")
    turns.release()
    t.join()
    assert got == [True]
    turns.release()
    assert turns.acquire(0.01)  # free again


def test_release_without_a_turn_is_refused() -> None:
    with pytest.raises(RuntimeError):
        WriteTurns().release()


def test_a_transaction_that_waits_past_its_busy_timeout_is_told_the_store_is_busy(
        tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "busy.db", busy_timeout_s=0.2)
    store.execute("CREATE TABLE t (x INTEGER)")
    held, done = threading.Event(), threading.Event()

    def holder() -> None:
        with store.transaction():
            store.execute("INSERT INTO t VALUES (1)")
            held.set()
            done.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert held.wait(10)
        with pytest.raises(StoreBusyError) as err, store.transaction():
            store.execute("INSERT INTO t VALUES (2)")
        assert err.value.code == "store.busy"
        assert "0.2 s" in err.value.message
    finally:
        done.set()
        t.join()
    with store.transaction():  # the turns are free again, nothing left behind
        store.execute("INSERT INTO t VALUES (3)")
    assert [r[0] for r in store.execute("SELECT x FROM t ORDER BY x").fetchall()] == [1, 3]
    store.close()
