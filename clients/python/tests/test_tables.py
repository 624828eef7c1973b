"""Materialized roads against a live server: key lookups (get, batch_get,
list_entries) from the view with read-your-writes, and SNAPSHOT
subscriptions served from the view that resume with their token."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import grpc
import pytest

from roadroller import (
    Accepted,
    Client,
    Entry,
    FailedPreconditionError,
    InvalidArgumentError,
    Message,
    NotFoundError,
    Record,
    Rejected,
    RoadType,
    SnapshotComplete,
    SnapshotQueued,
    Subscription,
    offsets_after,
    pb,
)

SCHEMA = {"type": "object", "properties": {"word": {"type": "string"}, "n": {"type": "integer"}}}

Item = Message | SnapshotComplete | SnapshotQueued


def new_road(client: Client, *, materialized: bool = True) -> str:
    """An enabled COMPACTED road with a schema; materialized (its view
    ready) unless told otherwise."""
    name = f"py_{uuid.uuid4().hex[:12]}"
    client.create_road(name, RoadType.COMPACTED, description="Python client tables test")
    client.wait_for_topic(name)
    client.register_schema(name, SCHEMA)
    client.set_enabled(name)
    if materialized:
        road = client.set_materialized(name)
        assert road.materialized
        client.wait_for_table(name)
    return name


def accepted(results: list[Accepted | Rejected]) -> list[Accepted]:
    assert all(isinstance(r, Accepted) for r in results), results
    return [r for r in results if isinstance(r, Accepted)]


def take(sub: Subscription[Item], count: int, within: float = 60.0) -> list[Item]:
    """The next `count` items, skipping `SnapshotQueued`, failing when they
    do not all arrive in time."""
    items: list[Item] = []
    deadline = time.monotonic() + within
    while len(items) < count:
        left = deadline - time.monotonic()
        item = sub.poll(left) if left > 0 else None
        if item is None:
            pytest.fail(f"{len(items)} of {count} items within {within}s: {items[-5:]}")
        if not isinstance(item, SnapshotQueued):
            items.append(item)
    return items


def only_messages(items: list[Item]) -> list[Message]:
    for item in items:
        assert isinstance(item, Message), item
    return [item for item in items if isinstance(item, Message)]


def test_a_materialized_road_answers_the_latest_value_of_each_key(client: Client) -> None:
    # Written before the road is materialized: the view is built from the topic.
    road = new_road(client, materialized=False)
    before = time.time()
    results = accepted(
        client.produce(
            road,
            [
                Record("a", {"word": "one"}),
                Record("b", {"word": "two"}),
                Record("a", {"word": "three"}),
                Record.delete("b"),
            ],
        )
    )
    marked = client.set_materialized(road)
    assert marked.materialized
    status = client.wait_for_table(road).table
    assert status.ready and status.live_keys == 1
    for partition, end in offsets_after(results).items():
        assert status.offsets[partition] >= end

    entry = client.get(road, "a")
    assert isinstance(entry, Entry)
    latest = results[2]
    assert (entry.key, entry.value) == ("a", {"word": "three"})
    assert entry.payload == json.dumps({"word": "three"})  # the text as produced
    assert (entry.partition, entry.offset) == (latest.partition, latest.offset)
    assert entry.schema_version == latest.schema_version == 1
    assert entry.timestamp is not None and entry.timestamp.utcoffset() is not None
    assert before - 60 < entry.timestamp.timestamp() < time.time() + 60
    assert round(entry.timestamp.timestamp() * 1000) == entry.timestamp_ms

    assert client.get(road, "b") is None  # deleted
    assert client.get(road, "never") is None


def test_batch_get_answers_one_result_per_key_in_the_order_asked(client: Client) -> None:
    road = new_road(client)
    results = client.produce(
        road,
        [Record("a", {"word": "one"}), Record("b", {"word": "two"}), Record("c", {"n": 3})],
    )
    results += client.produce(road, [Record("a", {"word": "three"}), Record.delete("b")])
    answers = client.batch_get(road, ["c", "b", "missing", "a", "c"], min_offsets=results)
    assert [key for key, _ in answers] == ["c", "b", "missing", "a", "c"]
    values = [None if entry is None else entry.value for _, entry in answers]
    assert values == [{"n": 3}, None, None, {"word": "three"}, {"n": 3}]
    assert answers[0][1] == answers[4][1]
    a, latest = answers[3][1], accepted(results)[3]
    assert a is not None and (a.partition, a.offset) == (latest.partition, latest.offset)

    assert client.batch_get(road, []) == []
    with pytest.raises(TypeError):
        client.batch_get(road, "abc")
    with pytest.raises(InvalidArgumentError):
        client.batch_get(road, [f"k{i}" for i in range(1001)])
    with pytest.raises(InvalidArgumentError):
        client.get(road, "")


class CountingTables:
    """The TableService stub, counting ListEntries pages."""

    def __init__(self, stub: pb.TableServiceStub) -> None:
        self._stub = stub
        self.pages: list[pb.ListEntriesResponse] = []

    def ListEntries(self, request: pb.ListEntriesRequest, **kwargs: Any) -> Any:  # noqa: N802
        page = self._stub.ListEntries(request, **kwargs)
        self.pages.append(page)
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stub, name)


def test_list_entries_follows_the_pages_in_key_order_with_a_prefix(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    road = new_road(client)
    users = [f"user-{i:02}" for i in range(11)]
    records = [Record(k, {"n": i}) for i, k in enumerate(users)]
    records += [Record("other-1", {"n": 100}), Record("user", {"n": 101}), Record("zed", {"n": 1})]
    results = client.produce(road, reversed(records))  # written out of key order
    results += client.produce(road, [Record.delete("zed"), Record("user-03", {"n": 33})])
    # Listing takes no min_offsets: wait for the writes with a lookup first
    # (one instance's offsets never go back).
    assert client.get(road, "user-03", min_offsets=results) is not None

    counting = CountingTables(client.tables)
    monkeypatch.setattr(client, "tables", counting)
    listed = list(client.list_entries(road, prefix="user-", page_size=4))
    assert [e.key for e in listed] == users
    assert [e.value["n"] for e in listed] == [0, 1, 2, 33, 4, 5, 6, 7, 8, 9, 10]
    assert [len(p.entries) for p in counting.pages] == [4, 4, 3]
    assert [bool(p.next_page_token) for p in counting.pages] == [True, True, False]

    everything = [e.key for e in client.list_entries(road)]
    assert everything == sorted(["other-1", "user", *users])
    assert list(client.list_entries(road, prefix="nobody")) == []
    with pytest.raises(InvalidArgumentError):
        list(client.list_entries(road, page_size=1001))


def test_read_your_writes_with_min_offsets_from_produce(
    client: Client, server_address: str
) -> None:
    road = new_road(client)
    for n in range(20):
        results = client.produce(road, [Record("counter", {"n": n}), Record(f"k{n}", {"n": n})])
        entry = client.get(road, "counter", min_offsets=results)
        assert entry is not None and entry.value == {"n": n}
        # The same as a mapping of partition to the offset after the write.
        wanted = offsets_after(results)
        (_, k), (_, counter) = client.batch_get(road, [f"k{n}", "counter"], min_offsets=wanted)
        assert k is not None and k.value == {"n": n}
        assert counter == entry

    assert offsets_after([]) == {}
    rejected = Rejected(grpc.StatusCode.INVALID_ARGUMENT, "bad")
    assert offsets_after([Accepted(1, 7, 1), rejected, Accepted(1, 3, 1), Accepted(0, 0, 1)]) == {
        1: 8,
        0: 1,
    }

    # An offset the view has not reached: refused at once when asked to.
    partition = accepted(results)[0].partition
    ahead = {partition: accepted(results)[0].offset + 1_000_000}
    started = time.monotonic()
    with pytest.raises(FailedPreconditionError) as behind:
        client.get(road, "counter", min_offsets=ahead, fail_if_behind=True)
    assert behind.value.reason == "VIEW_BEHIND"
    assert time.monotonic() - started < 5
    # Otherwise the server waits for it until just before the call's
    # deadline, then says why.
    with Client(server_address, timeout=2) as impatient:
        started = time.monotonic()
        with pytest.raises(FailedPreconditionError) as behind:
            impatient.get(road, "counter", min_offsets=ahead)
        assert behind.value.reason == "VIEW_BEHIND"
        assert 1.5 < time.monotonic() - started < 2
    with pytest.raises(InvalidArgumentError):
        client.get(road, "counter", min_offsets={9999: 1})
    with pytest.raises(InvalidArgumentError):
        client.get(road, "counter", min_offsets={partition: -1})


def test_a_road_not_materialized_is_failed_precondition(client: Client) -> None:
    road = new_road(client, materialized=False)
    client.produce(road, [Record("a", {"word": "one"})])
    for lookup in (
        lambda: client.get(road, "a"),
        lambda: client.batch_get(road, ["a"]),
        lambda: list(client.list_entries(road)),
    ):
        with pytest.raises(FailedPreconditionError) as refused:
            lookup()
        assert refused.value.reason == "NOT_MATERIALIZED"
    with pytest.raises(FailedPreconditionError):
        client.wait_for_table(road, timeout=1)
    assert not client.get_road(road).HasField("table")

    # Its snapshot is read from the topic: no resume tokens.
    with client.snapshot(road) as snapshot:
        message, done = take(snapshot, 2)
        assert isinstance(message, Message) and message.resume_token is None
        assert isinstance(done, SnapshotComplete)
        assert snapshot.resume_token is None

    with pytest.raises(NotFoundError):
        client.get(f"{road}_missing", "a")

    stream = f"py_{uuid.uuid4().hex[:12]}"
    client.create_road(stream, RoadType.STREAM)
    with pytest.raises(InvalidArgumentError):
        client.set_materialized(stream)


def test_a_cut_off_snapshot_resumes_with_its_token_delivering_the_remaining_keys(
    client: Client,
) -> None:
    road = new_road(client)
    written = [f"k{i:04}" for i in range(2050)]
    deleted = written[::41]  # 50 deletes, spread out
    results: list[Accepted | Rejected] = []
    for chunk in range(0, len(written), 500):
        results += client.produce(road, [Record(k, {"n": 1}) for k in written[chunk : chunk + 500]])
    results += client.produce(road, [Record.delete(k) for k in deleted])
    live = sorted(set(written) - set(deleted))
    assert len(live) == 2000
    # The offsets the view is at once it has every write: the boundary of a
    # snapshot started now (the end of each partition).
    request = pb.GetEntryRequest(road=road, key=live[-1])
    request.min_offsets.offsets.update(offsets_after(results))
    at = client.tables.GetEntry(request, timeout=30)
    assert at.entry.key == live[-1]
    boundary = dict(at.view_offsets.offsets)
    partitions = client.get_road(road).partitions
    assert boundary == {p: offsets_after(results).get(p, 0) for p in range(partitions)}

    cut = 700
    with client.snapshot(road, window=100) as first:
        taken = only_messages(take(first, cut))
        assert first.resume_token == taken[-1].resume_token
    assert [m.key for m in taken] == live[:cut]  # key order, from the view
    assert all(m.resume_token for m in taken)
    assert len({m.resume_token for m in taken}) == cut
    token = first.resume_token
    assert token is not None

    # Written after the boundary: a key still to come is left out of the
    # rest (its new value follows among the changes), as is a new key.
    changed = [
        Record(live[0], {"n": 2}),
        Record(live[-1], {"n": 2}),
        Record("k9999", {"n": 2}),
        Record.delete(live[cut]),
    ]
    later = client.produce(road, changed)
    assert client.get(road, "k9999", min_offsets=later) is not None

    rest = live[cut + 1 : -1]
    with client.snapshot(road, resume_token=token) as resumed:
        assert resumed.resume_token == token  # until a message carries a newer one
        items = take(resumed, len(rest) + 1)
        *state, complete = items
        assert [m.key for m in only_messages(state)] == rest
        assert isinstance(complete, SnapshotComplete)
        assert complete.offsets == boundary
        assert resumed.resume_token == only_messages(state)[-1].resume_token
        # Then the same changes, from the boundary (in order per partition).
        changes = only_messages(take(resumed, 4))
        assert {(m.key, m.payload, m.partition, m.offset) for m in changes} == {
            (r.key, None if r.payload is None else json.dumps(r.payload), a.partition, a.offset)
            for r, a in zip(changed, accepted(later), strict=True)
        }
        assert all(m.resume_token is None for m in changes)
        # Live changes carry no token: the last snapshot one stays.
        assert resumed.resume_token == only_messages(state)[-1].resume_token


def test_a_resume_token_that_cannot_be_resumed_is_refused(client: Client) -> None:
    road = new_road(client)
    results = client.produce(road, [Record(f"k{i}", {"n": i}) for i in range(5)])
    assert client.get(road, "k4", min_offsets=results) is not None
    with client.snapshot(road) as snapshot:
        (message,) = take(snapshot, 1)
        assert isinstance(message, Message) and message.resume_token

    with client.snapshot(road, resume_token="not a token") as junk:
        with pytest.raises(InvalidArgumentError) as invalid:
            junk.poll(30)
    assert junk.ended
    assert invalid.value.reason == "INVALID_START"
    assert [v.field for v in invalid.value.violations] == ["start.resume_token"]

    # A real token needs a ready view: not once the road is no longer
    # materialized.
    assert not client.set_materialized(road, False).materialized
    with pytest.raises(FailedPreconditionError) as off:
        client.get(road, "k0")
    assert off.value.reason == "NOT_MATERIALIZED"
    with client.snapshot(road, resume_token=message.resume_token) as gone:
        with pytest.raises(FailedPreconditionError) as refused:
            gone.poll(30)
    assert refused.value.reason == "SNAPSHOT_NOT_RESUMABLE"
