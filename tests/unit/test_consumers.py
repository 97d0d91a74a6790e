"""Actions as consumers of published snapshots (consumers.py), and the one actor per host (actor.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from healthcheck.actor import ActionStateFile, ActorLock, actor_paths
from healthcheck.consumers import ConsumerRunner
from healthcheck.responses import Answer
from healthcheck.snapshot import Snapshot
from tests.waiting import wait_until


def snapshot(n: int) -> Snapshot:
    answer = Answer(200, b"{}")
    return Snapshot(taken_at=float(n), checked_at=f"poll {n}", answer=answer, ready=answer, counters=b"")


class Recorder:
    """A consumer that records what it got; it blocks on each snapshot until `release` is set, if told to."""

    def __init__(self, name: str, block: bool = False) -> None:
        self.name = name
        self.got: list[str] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not block:
            self.release.set()

    def consume(self, snapshot: Snapshot) -> None:
        self.got.append(snapshot.checked_at)
        self.started.set()
        self.release.wait(30)


def test_a_busy_consumer_later_gets_only_the_newest_snapshot() -> None:
    slow = Recorder("slow", block=True)
    runner = ConsumerRunner([slow])
    runner.offer(snapshot(1))
    assert slow.started.wait(10)
    for n in range(2, 50):  # published while it is busy: no queue, only the newest is kept
        runner.offer(snapshot(n))
    slow.release.set()
    assert runner.wait_idle(10)
    assert slow.got == ["poll 1", "poll 49"]
    runner.stop()


def test_a_hung_consumer_delays_neither_the_offer_nor_another_consumer() -> None:
    hung, quick = Recorder("hung", block=True), Recorder("quick")
    runner = ConsumerRunner([hung, quick])
    for n in range(1, 4):
        runner.offer(snapshot(n))  # returns at once although `hung` never finishes
        wait_until(lambda n=n: quick.got[-1:] == [f"poll {n}"], what=f"the quick consumer to get poll {n}")
    assert hung.got == ["poll 1"]
    assert not runner.wait_idle(0.05)
    runner.stop()
    hung.release.set()


def test_a_consumer_that_raises_goes_on_with_the_next_snapshot() -> None:
    got: list[str] = []

    class Flaky:
        name = "flaky"

        def consume(self, snapshot: Snapshot) -> None:
            got.append(snapshot.checked_at)
            if snapshot.checked_at == "poll 1":
                raise RuntimeError("a bug")

    runner = ConsumerRunner([Flaky()])
    runner.offer(snapshot(1))
    assert runner.wait_idle(10)
    runner.offer(snapshot(2))
    assert runner.wait_idle(10)
    assert got == ["poll 1", "poll 2"]
    runner.stop()


def test_only_the_actor_consumes() -> None:
    recorder = Recorder("r")
    acting = False
    runner = ConsumerRunner([recorder], may_act=lambda: acting)
    runner.offer(snapshot(1))
    assert runner.wait_idle(10) and recorder.got == []
    acting = True
    runner.offer(snapshot(2))
    assert runner.wait_idle(10) and recorder.got == ["poll 2"]
    runner.stop()


def test_one_lock_holder_per_path_and_the_next_takes_over_when_it_goes(tmp_path: Path) -> None:
    lock_path, _ = actor_paths(str(tmp_path), "http://connect:8083", 18083)
    first, second = ActorLock(lock_path), ActorLock(lock_path)  # as two processes would: two open files
    assert first.try_hold()
    assert not second.try_hold()
    assert first.try_hold()  # still the actor
    first.release()
    assert second.try_hold()
    second.release()


def test_servers_of_other_connects_or_ports_have_their_own_lock(tmp_path: Path) -> None:
    here = actor_paths(str(tmp_path), "http://connect:8083", 18083)
    assert actor_paths(str(tmp_path), "http://connect:8083/", 18083) == here
    assert actor_paths(str(tmp_path), "http://other:8083", 18083) != here
    assert actor_paths(str(tmp_path), "http://connect:8083", 18084) != here


def test_the_state_file_is_replaced_whole_and_read_by_anyone(tmp_path: Path) -> None:
    writer, reader = ActionStateFile(tmp_path / "a.json"), ActionStateFile(tmp_path / "a.json")
    assert reader.read() == {}
    writer.write({"statuses": {"x": 1}})
    assert reader.read() == {"statuses": {"x": 1}}
    writer.write({"statuses": {}})
    assert reader.read() == {"statuses": {}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp file left behind
    (tmp_path / "a.json").write_text("{half")
    assert reader.read() == {}  # damaged: nothing shown rather than something wrong
