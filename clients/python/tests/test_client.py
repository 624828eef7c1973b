"""The Python client against a live server: roads and schemas, produce,
GROUP subscriptions with commits, and snapshot-then-follow."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import grpc
import pytest

from roadroller import (
    Accepted,
    Client,
    CommitError,
    InitialPosition,
    Message,
    NotFoundError,
    Record,
    Rejected,
    RoadrollerError,
    RoadType,
    SnapshotComplete,
    SnapshotQueued,
    Subscription,
    pb,
)

T = TypeVar("T", Message, Message | SnapshotComplete, Message | SnapshotComplete | SnapshotQueued)


def take(sub: Subscription[T], count: int, within: float = 30.0) -> list[T]:
    """The next `count` items, failing when they do not all arrive in time."""
    items: list[T] = []
    deadline = time.monotonic() + within
    while len(items) < count:
        left = deadline - time.monotonic()
        item = sub.poll(max(left, 0)) if left > 0 else None
        if item is None:
            pytest.fail(f"{len(items)} of {count} items within {within}s: {items}")
        items.append(item)
    return items


def messages(items: list[Message | SnapshotComplete | SnapshotQueued]) -> list[Message]:
    """The items, asserting that every one is a `Message`."""
    for item in items:
        assert isinstance(item, Message), item
    return [item for item in items if isinstance(item, Message)]


def quiet(sub: Subscription[T], for_seconds: float = 1.5) -> None:
    """Asserts that nothing more arrives for a while."""
    item = sub.poll(for_seconds)
    assert item is None, f"unexpected {item}"


def test_road_and_schema_lifecycle(client: Client) -> None:
    name = f"py_{uuid.uuid4().hex[:12]}"
    created = client.create_road(name, RoadType.COMPACTED, description="prices by SKU")
    assert created.type == RoadType.COMPACTED
    assert not created.enabled

    with pytest.raises(RoadrollerError) as refused:
        client.create_road(name, RoadType.COMPACTED)
    assert refused.value.code == grpc.StatusCode.ALREADY_EXISTS

    road = client.wait_for_topic(name)
    assert road.status.topic_created
    schema = client.register_schema(
        name, {"type": "object", "properties": {"price": {"type": "number"}}}
    )
    assert schema.version == 1
    assert client.get_schema(name).version == 1
    assert [s.version for s in client.list_schemas(name)] == [1]

    road = client.set_enabled(name)
    assert road.enabled and road.latest_schema_version == 1
    assert name in [r.name for r in client.list_roads(RoadType.COMPACTED)]
    assert name not in [r.name for r in client.list_roads(RoadType.STREAM)]

    with pytest.raises(NotFoundError) as missing:
        client.get_road(f"{name}_missing")
    assert missing.value.reason == "ROAD_NOT_FOUND"

    with pytest.raises(RoadrollerError) as invalid:
        client.register_schema(name, {"type": "array"})
    assert invalid.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_produce_keyed_records_and_a_delete(
    client: Client, compacted_road: Callable[[], str]
) -> None:
    road = compacted_road()
    results = client.produce(
        road,
        [
            Record("sku-1", {"price": 10, "name": "hammer"}),
            ("sku-2", '{"price": 2.5}'),
            Record.delete("sku-1"),
            Record("sku-3", {"price": "free"}),
            Record(None, {"price": 1}),
        ],
    )
    assert len(results) == 5
    first, second, delete, bad_type, no_key = results
    assert isinstance(first, Accepted) and first.schema_version == 1
    assert isinstance(second, Accepted) and second.schema_version == 1
    assert isinstance(delete, Accepted)
    assert delete.partition == first.partition and delete.offset > first.offset
    assert isinstance(bad_type, Rejected) and not bad_type.ok
    assert bad_type.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [(v.pointer, v.keyword) for v in bad_type.violations] == [("/price", "type")]
    assert isinstance(no_key, Rejected) and no_key.code == grpc.StatusCode.INVALID_ARGUMENT

    with pytest.raises(NotFoundError):
        client.produce(f"{road}_missing", [Record("k", {"price": 1})])


def test_a_delete_carries_schema_version_zero(
    client: Client, compacted_road: Callable[[], str]
) -> None:
    road = compacted_road()
    (delete,) = client.produce(road, [Record.delete("gone")])
    assert isinstance(delete, Accepted) and delete.schema_version == 0


def test_group_subscription_commits_and_a_new_subscriber_resumes_after_them(
    client: Client, compacted_road: Callable[[], str]
) -> None:
    road = compacted_road()
    produced = client.produce(
        road, [Record("a", {"price": 1}), Record("b", {"price": 2}), Record.delete("a")]
    )
    assert all(r.ok for r in produced)

    with client.subscribe(road, "indexer", initial_position=InitialPosition.EARLIEST) as sub:
        messages = take(sub, 3)
        assert sub.connection is not None
        assert sub.connection.consumer_group == f"roadroller.{road}.indexer"
        assert all(isinstance(m, Message) for m in messages)
        seen = {(m.key, m.payload) for m in messages}
        assert seen == {("a", '{"price": 1}'), ("b", '{"price": 2}'), ("a", None)}
        (tombstone,) = [m for m in messages if m.is_delete]
        assert tombstone.key == "a" and tombstone.value is None
        committed = sub.commit()
        expected: dict[int, int] = {}
        for m in messages:
            expected[m.partition] = max(expected.get(m.partition, 0), m.next_offset)
        assert committed == expected
        with pytest.raises(CommitError):
            sub.commit({max(sub.partitions) + 1000: 0})

    # Everything committed: the stream's next subscriber gets only what is new,
    # its commits winning over the initial position.
    client.produce(road, [Record("c", {"price": 3})])
    with client.subscribe(road, "indexer", initial_position=InitialPosition.EARLIEST) as sub:
        (message,) = take(sub, 1)
        assert isinstance(message, Message)
        assert (message.key, message.value) == ("c", {"price": 3})
        quiet(sub)


def test_credit_is_topped_up_as_messages_are_taken(
    client: Client, compacted_road: Callable[[], str]
) -> None:
    road = compacted_road()
    records = [Record(f"k{i}", {"price": i}) for i in range(12)]
    assert all(r.ok for r in client.produce(road, records))
    earliest = InitialPosition.EARLIEST
    with client.subscribe(road, "small_window", initial_position=earliest, window=4) as sub:
        keys = {m.key for m in take(sub, 12)}
    assert keys == {f"k{i}" for i in range(12)}


def test_snapshot_ends_with_the_boundary_then_follows_live_changes(
    client: Client, compacted_road: Callable[[], str]
) -> None:
    road = compacted_road()
    before = client.produce(
        road,
        [
            Record("a", {"price": 1}),
            Record("b", {"price": 2}),
            Record("a", {"price": 3}),
            Record("c", {"price": 4}),
            Record.delete("b"),
        ],
    )
    assert all(r.ok for r in before)

    with client.snapshot(road, window=2) as snapshot:
        loaded = take(snapshot, 3)
        *state, boundary = loaded
        assert isinstance(boundary, SnapshotComplete), loaded
        assert {m.key: m.value for m in messages(state)} == {"a": {"price": 3}, "c": {"price": 4}}
        # The boundary's offsets are the ends of the partitions when it began.
        ends = {r.partition: r.offset + 1 for r in before if isinstance(r, Accepted)}
        for partition, end in ends.items():
            assert boundary.offsets[partition] >= end
        quiet(snapshot, 1.0)

        with pytest.raises(CommitError):
            snapshot.commit({0: 0})

        client.produce(road, [Record("d", {"price": 5}), Record.delete("c")])
        live = messages(take(snapshot, 2))
        assert {(m.key, m.payload) for m in live} == {("d", '{"price": 5}'), ("c", None)}


def test_a_new_stream_starts_at_latest_by_default(
    client: Client, compacted_road: Callable[[], str]
) -> None:
    road = compacted_road()
    before = client.produce(road, [Record(f"before-{i}", {"price": i}) for i in range(5)])
    assert all(r.ok for r in before)

    wanted = {"after-0", "after-1", "after-2"}
    with client.subscribe(road, "latest_by_default") as sub:
        # It starts at the end of each partition as its consumer finds it
        # after joining: write until a record written since shows up.
        seen: list[Message] = []
        joined = 0
        while not seen:
            assert joined < 60, "nothing written after joining arrived"
            client.produce(road, [Record(f"joined-{joined}", {"price": 0})])
            joined += 1
            while (item := sub.poll(0.5)) is not None:
                seen.append(item)
        assert sub.partitions
        after = client.produce(road, [Record(k, {"price": 1}) for k in sorted(wanted)])
        assert all(r.ok for r in after)
        while not wanted <= {m.key for m in seen}:
            seen += take(sub, 1)
        quiet(sub, 1.0)

    keys = {m.key for m in seen}
    assert not {k for k in keys if k and k.startswith("before-")}, keys
    assert keys - wanted <= {f"joined-{i}" for i in range(joined)}
    # The record's time, as Kafka stamped it on the way in.
    stamped = seen[-1]
    assert stamped.timestamp is not None and stamped.timestamp.utcoffset() is not None
    assert abs(stamped.timestamp.timestamp() - time.time()) < 300
    assert round(stamped.timestamp.timestamp() * 1000) == stamped.timestamp_ms


def test_a_snapshot_over_the_roads_limit_is_told_its_place_then_loads(client: Client) -> None:
    road = f"py_{uuid.uuid4().hex[:12]}"
    one_at_a_time = pb.RoadQuotas(max_snapshot_subscriptions=1)
    client.create_road(road, RoadType.COMPACTED, quotas=one_at_a_time)
    client.wait_for_topic(road)
    client.register_schema(road, {"type": "object"})
    client.set_enabled(road)
    keys = {f"k{i}" for i in range(5)}
    assert all(r.ok for r in client.produce(road, [Record(k, {"n": 1}) for k in sorted(keys)]))

    # With credit for one message at a time the first snapshot cannot finish
    # before it is read on, so it keeps the road's only place.
    with client.snapshot(road, window=1) as first:
        (head,) = take(first, 1)
        assert isinstance(head, Message)
        with client.snapshot(road) as second:
            assert take(second, 1) == [SnapshotQueued(place=1)]

            *rest, boundary = take(first, len(keys))
            assert isinstance(boundary, SnapshotComplete)
            assert {m.key for m in messages([head, *rest])} == keys

            # The place is given up at the boundary: the second one loads.
            items = take(second, len(keys) + 1)
            while isinstance(items[0], SnapshotQueued):
                items = items[1:] + take(second, 1)
            *state, done = items
            assert isinstance(done, SnapshotComplete)
            assert {m.key for m in messages(state)} == keys
