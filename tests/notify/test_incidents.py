"""The incident rule, driven with plain numbers for time: when incidents open, repeat and resolve."""

from __future__ import annotations

from healthcheck.notify.incidents import CONNECT_KEY, IncidentTracker, Problem, Reading

AT = "2025-01-01T12:00:00.000Z"


def failing(connector: str = "orders", task: int | None = 0, state: str = "FAILED", **fields: object) -> Problem:
    key = f"connector:{connector}" if task is None else f"task:{connector}:{task}"
    defaults: dict[str, object] = {"worker_id": "w1:8083", "since": "2025-01-01T11:59:00.000Z"}
    return Problem(key, state, "disk full", connector=connector, task=task, **{**defaults, **fields})  # type: ignore[arg-type]


def unreadable() -> Reading:
    return Reading((Problem(CONNECT_KEY, "UNREADABLE", "timeout", hold=30),), connectors_known=False)


def healthy() -> Reading:
    return Reading(())


def kinds(tracker: IncidentTracker, reading: Reading, now: float, cluster: str | None = None) -> list[str]:
    return [event.kind for event in tracker.observe(reading, now, AT, cluster)]


def tracker() -> IncidentTracker:
    return IncidentTracker(repeat=60, settle=15)


def test_a_failure_opens_once_the_verdict_counts_it() -> None:
    t = tracker()
    assert kinds(t, Reading((failing(counted=False),)), 0) == []  # still within --unhealthy-after
    assert kinds(t, Reading((failing(),)), 5) == ["open"]
    assert kinds(t, Reading((failing(),)), 10) == []  # open: nothing new to say


def test_an_open_incident_repeats_every_repeat_interval() -> None:
    t = tracker()
    kinds(t, Reading((failing(),)), 0)
    assert kinds(t, Reading((failing(),)), 59) == []
    assert kinds(t, Reading((failing(),)), 60) == ["repeat"]
    assert kinds(t, Reading((failing(),)), 100) == []
    assert kinds(t, Reading((failing(),)), 120) == ["repeat"]


def test_it_resolves_after_being_healthy_for_the_settle_time() -> None:
    t = tracker()
    kinds(t, Reading((failing(),)), 0)
    assert kinds(t, healthy(), 5) == []  # healthy since 5
    assert kinds(t, healthy(), 19) == []
    assert kinds(t, healthy(), 20) == ["resolve"]
    assert t.open_incidents == ()


def test_a_flapping_task_is_one_incident_not_a_stream_of_open_and_resolve() -> None:
    t = tracker()
    seen = []
    for step in range(20):  # FAILED and RUNNING by turns, every 5 s, for 100 s
        reading = Reading((failing(),)) if step % 2 == 0 else healthy()
        seen += kinds(t, reading, step * 5)
    assert seen == ["open", "repeat"]  # the repeat keeps Alertmanager's alert alive; no resolve in between


def test_a_change_of_state_or_worker_is_sent_at_once_with_what_was_before() -> None:
    t = tracker()
    t.observe(Reading((failing(state="UNASSIGNED"),)), 0, AT)
    (event,) = t.observe(Reading((failing(state="FAILED"),)), 5, AT)
    assert (event.kind, event.incident.state, event.previous.state) == ("repeat", "FAILED", "UNASSIGNED")  # type: ignore[union-attr]
    (event,) = t.observe(Reading((failing(worker_id="w2:8083"),)), 10, AT)
    assert event.previous is not None and event.previous.worker_id == "w1:8083"
    assert kinds(t, Reading((failing(worker_id="w2:8083"),)), 15) == []


def test_while_connect_is_unreadable_connector_incidents_neither_open_nor_resolve() -> None:
    t = tracker()
    kinds(t, Reading((failing("a"),)), 0)
    assert kinds(t, unreadable(), 5) == []  # the "connect" incident waits its hold; "a" is unknown, not healed
    assert kinds(t, unreadable(), 60) == ["open", "repeat"]  # connect opens after 30 s... and "a" repeats
    assert [e.incident.key for e in t.observe(healthy(), 65, AT)] == []
    events = t.observe(healthy(), 80, AT)
    assert sorted((e.kind, e.incident.key) for e in events) == [("resolve", "connect"), ("resolve", "task:a:0")]


def test_connect_unreadable_for_less_than_its_hold_opens_nothing() -> None:
    t = tracker()
    assert kinds(t, unreadable(), 0) == []
    assert kinds(t, healthy(), 10) == []
    assert kinds(t, unreadable(), 20) == []  # the hold starts again
    assert kinds(t, unreadable(), 49) == []
    assert kinds(t, unreadable(), 50) == ["open"]


def test_the_cluster_is_the_one_known_when_the_incident_opened() -> None:
    t = tracker()
    (opened,) = t.observe(Reading((failing(),)), 0, AT, cluster=None)
    (resolved,) = (e for step in (1, 20) for e in t.observe(healthy(), step, AT, cluster="lkc-1"))
    assert opened.incident.cluster is None and resolved.incident.cluster is None  # one key for its whole life


def test_keys_are_the_same_after_a_restart_so_receivers_deduplicate() -> None:
    before, after = tracker(), tracker()
    (first,) = before.observe(Reading((failing("orders", 3),)), 0, AT, "c")
    (again,) = after.observe(Reading((failing("orders", 3),)), 999, AT, "c")
    assert first.incident == again.incident and first.incident.key == "task:orders:3"


def test_a_connector_and_its_task_are_separate_incidents() -> None:
    t = tracker()
    events = t.observe(Reading((failing("x", None), failing("x", 0), failing("x:0", None))), 0, AT)
    assert sorted(e.incident.key for e in events) == ["connector:x", "connector:x:0", "task:x:0"]
