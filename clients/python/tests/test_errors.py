"""Typed errors against a live server: one `RoadrollerError` subclass per
gRPC code, unary calls and subscription streams alike, with the ErrorInfo
reason, BadRequest field violations and, for quota refusals, RetryInfo and
QuotaFailure decoded."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import grpc
import pytest

from roadroller import (
    AbortedError,
    Accepted,
    AlreadyExistsError,
    Client,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    Message,
    NotFoundError,
    Record,
    ResourceExhaustedError,
    RoadrollerError,
    RoadType,
    SnapshotComplete,
    pb,
)

SCHEMA = {"type": "object", "properties": {"price": {"type": "number"}}}


def road_name() -> str:
    return f"py_{uuid.uuid4().hex[:12]}"


def test_a_second_create_is_already_exists(client: Client) -> None:
    name = road_name()
    client.create_road(name, RoadType.COMPACTED)
    with pytest.raises(AlreadyExistsError) as refused:
        client.create_road(name, RoadType.STREAM)
    error = refused.value
    assert isinstance(error, RoadrollerError)
    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert error.reason == "ROAD_ALREADY_EXISTS"
    assert name in error.message
    assert "ALREADY_EXISTS" in str(error)


def test_an_unknown_road_is_not_found_for_calls_and_streams(client: Client) -> None:
    missing = f"{road_name()}_missing"
    with pytest.raises(NotFoundError) as refused:
        client.get_road(missing)
    assert refused.value.code == grpc.StatusCode.NOT_FOUND
    assert refused.value.reason == "ROAD_NOT_FOUND"
    assert refused.value.violations == []

    # A subscription ends with the same class, mapped from the stream's status.
    with client.subscribe(missing, "reader") as sub:
        with pytest.raises(NotFoundError) as ended:
            sub.poll(30)
    assert ended.value.reason == "ROAD_NOT_FOUND"
    assert sub.ended


def test_a_bad_request_is_invalid_argument_with_its_field_violations(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        client.create_road("Not-A-Name", RoadType.COMPACTED)
    error = refused.value
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.reason == "INVALID_ROAD"
    assert [v.field for v in error.violations] == ["road.name"]
    assert "Not-A-Name" in error.violations[0].description
    assert "road.name" in str(error)

    with pytest.raises(InvalidArgumentError) as refused:
        client.create_road(road_name(), RoadType.COMPACTED, partition_path="$.id")
    assert [v.field for v in refused.value.violations] == ["road.partition_path"]


def test_a_snapshot_of_a_stream_road_is_invalid_argument_on_the_stream(client: Client) -> None:
    name = road_name()
    client.create_road(name, RoadType.STREAM)
    client.wait_for_topic(name)
    with client.snapshot(name) as snapshot:
        with pytest.raises(InvalidArgumentError) as ended:
            snapshot.poll(30)
    assert ended.value.reason == "INVALID_START"
    assert [v.field for v in ended.value.violations] == ["start.mode"]
    assert isinstance(ended.value.violations[0], FieldViolation)


def test_a_disabled_road_is_failed_precondition_and_a_stale_etag_aborted(client: Client) -> None:
    name = road_name()
    client.create_road(name, RoadType.COMPACTED)
    client.wait_for_topic(name)
    client.register_schema(name, SCHEMA)
    with pytest.raises(FailedPreconditionError) as disabled:
        client.produce(name, [Record("k", {"price": 1})])
    assert disabled.value.reason == "ROAD_DISABLED"

    stale = client.get_road(name).etag
    assert stale
    client.update_road(pb.Road(name=name, description="first", etag=stale), ["description"])
    with pytest.raises(AbortedError) as refused:
        client.update_road(pb.Road(name=name, description="second", etag=stale), ["description"])
    assert refused.value.code == grpc.StatusCode.ABORTED
    assert refused.value.reason == "ETAG_MISMATCH"
    assert client.get_road(name).description == "first"


def until_refused(call: Callable[[], object], attempts: int = 5) -> ResourceExhaustedError:
    """Makes `call` until the server refuses it for a quota (it may let the
    first ones through, the bucket's burst), and returns the refusal."""
    for _ in range(attempts):
        try:
            call()
        except ResourceExhaustedError as refused:
            return refused
    pytest.fail(f"no RESOURCE_EXHAUSTED in {attempts} calls")


def test_a_road_over_its_produce_quota_says_when_to_retry(client: Client) -> None:
    name = road_name()
    quotas = pb.RoadQuotas(produce_records_per_second=2)
    client.create_road(name, RoadType.COMPACTED, quotas=quotas)
    client.wait_for_topic(name)
    client.register_schema(name, SCHEMA)
    client.set_enabled(name)

    # More than the burst holds can never pass: no point in retrying.
    with pytest.raises(ResourceExhaustedError) as too_many:
        client.produce(name, [Record(f"big-{i}", {"price": i}) for i in range(3)])
    assert too_many.value.reason == "QUOTA_EXCEEDED"
    assert too_many.value.retry_after is None
    assert [s for s, _ in too_many.value.quota_violations] == [f"road:{name}"]

    refused = until_refused(
        lambda: client.produce(name, [Record("a", {"price": 1}), Record("b", {"price": 2})])
    )
    assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused.reason == "QUOTA_EXCEEDED"
    assert refused.retry_after is not None and 0 < refused.retry_after <= 2
    ((subject, description),) = refused.quota_violations
    assert subject == f"road:{name}"
    assert "produce_records_per_second" in description
    assert "retry after" in str(refused)

    # After the wait the server asked for, the same call goes through.
    time.sleep(refused.retry_after + 0.1)
    results = client.produce(name, [Record("c", {"price": 3}), Record("d", {"price": 4})])
    assert all(isinstance(r, Accepted) for r in results)

    # Nothing of a refused call was written.
    with client.snapshot(name) as snapshot:
        keys = set()
        for item in snapshot:
            if isinstance(item, SnapshotComplete):
                break
            assert isinstance(item, Message)
            keys.add(item.key)
    assert not keys & {"big-0", "big-1", "big-2"}
    assert {"c", "d"} <= keys <= {"a", "b", "c", "d"}


def test_paver_writes_over_the_callers_quota_say_when_to_retry(
    start_server: Callable[..., str],
) -> None:
    address = start_server("--quotas-paver-writes-per-second", "1")
    with Client(address) as rr:
        refused = until_refused(lambda: rr.create_road(road_name(), RoadType.STREAM))
        assert refused.reason == "QUOTA_EXCEEDED"
        assert refused.retry_after is not None and refused.retry_after > 0
        assert len(refused.quota_violations) == 1
        subject, description = refused.quota_violations[0]
        assert subject and "paver_writes_per_second" in description
        time.sleep(refused.retry_after + 0.1)
        name = road_name()
        assert rr.create_road(name, RoadType.STREAM).name == name
