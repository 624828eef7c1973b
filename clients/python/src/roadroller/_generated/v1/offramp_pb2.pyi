import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import roads_pb2 as _roads_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InitialPosition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INITIAL_POSITION_UNSPECIFIED: _ClassVar[InitialPosition]
    INITIAL_POSITION_EARLIEST: _ClassVar[InitialPosition]
    INITIAL_POSITION_LATEST: _ClassVar[InitialPosition]

class SubscriptionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSCRIPTION_MODE_UNSPECIFIED: _ClassVar[SubscriptionMode]
    SUBSCRIPTION_MODE_GROUP: _ClassVar[SubscriptionMode]
    SUBSCRIPTION_MODE_SNAPSHOT: _ClassVar[SubscriptionMode]

class SeekBoundary(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEEK_BOUNDARY_UNSPECIFIED: _ClassVar[SeekBoundary]
    SEEK_BOUNDARY_BEGINNING: _ClassVar[SeekBoundary]
    SEEK_BOUNDARY_END: _ClassVar[SeekBoundary]
INITIAL_POSITION_UNSPECIFIED: InitialPosition
INITIAL_POSITION_EARLIEST: InitialPosition
INITIAL_POSITION_LATEST: InitialPosition
SUBSCRIPTION_MODE_UNSPECIFIED: SubscriptionMode
SUBSCRIPTION_MODE_GROUP: SubscriptionMode
SUBSCRIPTION_MODE_SNAPSHOT: SubscriptionMode
SEEK_BOUNDARY_UNSPECIFIED: SeekBoundary
SEEK_BOUNDARY_BEGINNING: SeekBoundary
SEEK_BOUNDARY_END: SeekBoundary

class SubscribeRequest(_message.Message):
    __slots__ = ("start", "request", "cancel", "commit", "seek")
    START_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    SEEK_FIELD_NUMBER: _ClassVar[int]
    start: StartSubscription
    request: RequestMessages
    cancel: CancelMessages
    commit: CommitOffsets
    seek: SeekPosition
    def __init__(self, start: _Optional[_Union[StartSubscription, _Mapping]] = ..., request: _Optional[_Union[RequestMessages, _Mapping]] = ..., cancel: _Optional[_Union[CancelMessages, _Mapping]] = ..., commit: _Optional[_Union[CommitOffsets, _Mapping]] = ..., seek: _Optional[_Union[SeekPosition, _Mapping]] = ...) -> None: ...

class StartSubscription(_message.Message):
    __slots__ = ("road", "stream", "initial_position", "mode", "grants", "initial_credit", "report_partition_end", "resume_token", "batch_messages")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    INITIAL_POSITION_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_CREDIT_FIELD_NUMBER: _ClassVar[int]
    REPORT_PARTITION_END_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    BATCH_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    road: str
    stream: str
    initial_position: InitialPosition
    mode: SubscriptionMode
    grants: _containers.RepeatedScalarFieldContainer[_roads_pb2.Grant]
    initial_credit: int
    report_partition_end: bool
    resume_token: str
    batch_messages: bool
    def __init__(self, road: _Optional[str] = ..., stream: _Optional[str] = ..., initial_position: _Optional[_Union[InitialPosition, str]] = ..., mode: _Optional[_Union[SubscriptionMode, str]] = ..., grants: _Optional[_Iterable[_Union[_roads_pb2.Grant, str]]] = ..., initial_credit: _Optional[int] = ..., report_partition_end: _Optional[bool] = ..., resume_token: _Optional[str] = ..., batch_messages: _Optional[bool] = ...) -> None: ...

class RequestMessages(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class CancelMessages(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CommitOffsets(_message.Message):
    __slots__ = ("correlation_id", "offsets")
    class OffsetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    offsets: _containers.ScalarMap[int, int]
    def __init__(self, correlation_id: _Optional[str] = ..., offsets: _Optional[_Mapping[int, int]] = ...) -> None: ...

class SeekPosition(_message.Message):
    __slots__ = ("boundary", "timestamp", "offsets")
    BOUNDARY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    boundary: SeekBoundary
    timestamp: _timestamp_pb2.Timestamp
    offsets: PartitionOffsets
    def __init__(self, boundary: _Optional[_Union[SeekBoundary, str]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., offsets: _Optional[_Union[PartitionOffsets, _Mapping]] = ...) -> None: ...

class PartitionOffsets(_message.Message):
    __slots__ = ("offsets",)
    class OffsetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    offsets: _containers.ScalarMap[int, int]
    def __init__(self, offsets: _Optional[_Mapping[int, int]] = ...) -> None: ...

class PartitionEnd(_message.Message):
    __slots__ = ("partition", "next_offset")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    partition: int
    next_offset: int
    def __init__(self, partition: _Optional[int] = ..., next_offset: _Optional[int] = ...) -> None: ...

class SnapshotQueued(_message.Message):
    __slots__ = ("place",)
    PLACE_FIELD_NUMBER: _ClassVar[int]
    place: int
    def __init__(self, place: _Optional[int] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("connection", "message", "rebalance", "commit_response", "snapshot_complete", "error", "snapshot_queued", "partition_end", "messages")
    CONNECTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REBALANCE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_QUEUED_FIELD_NUMBER: _ClassVar[int]
    PARTITION_END_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    connection: Connection
    message: RoadMessage
    rebalance: Rebalance
    commit_response: CommitResponse
    snapshot_complete: SnapshotComplete
    error: SubscriptionError
    snapshot_queued: SnapshotQueued
    partition_end: PartitionEnd
    messages: RoadMessages
    def __init__(self, connection: _Optional[_Union[Connection, _Mapping]] = ..., message: _Optional[_Union[RoadMessage, _Mapping]] = ..., rebalance: _Optional[_Union[Rebalance, _Mapping]] = ..., commit_response: _Optional[_Union[CommitResponse, _Mapping]] = ..., snapshot_complete: _Optional[_Union[SnapshotComplete, _Mapping]] = ..., error: _Optional[_Union[SubscriptionError, _Mapping]] = ..., snapshot_queued: _Optional[_Union[SnapshotQueued, _Mapping]] = ..., partition_end: _Optional[_Union[PartitionEnd, _Mapping]] = ..., messages: _Optional[_Union[RoadMessages, _Mapping]] = ...) -> None: ...

class RoadMessages(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[RoadMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[RoadMessage, _Mapping]]] = ...) -> None: ...

class Connection(_message.Message):
    __slots__ = ("instance_id", "consumer_group")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    consumer_group: str
    def __init__(self, instance_id: _Optional[str] = ..., consumer_group: _Optional[str] = ...) -> None: ...

class RoadMessage(_message.Message):
    __slots__ = ("partition", "offset", "timestamp", "schema_version", "key", "payload", "traceparent", "tracestate", "resume_token")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    RESUME_TOKEN_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    timestamp: _timestamp_pb2.Timestamp
    schema_version: int
    key: str
    payload: str
    traceparent: str
    tracestate: str
    resume_token: str
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., schema_version: _Optional[int] = ..., key: _Optional[str] = ..., payload: _Optional[str] = ..., traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ..., resume_token: _Optional[str] = ...) -> None: ...

class Rebalance(_message.Message):
    __slots__ = ("partitions",)
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ("correlation_id", "success", "error")
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    correlation_id: str
    success: bool
    error: str
    def __init__(self, correlation_id: _Optional[str] = ..., success: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class SnapshotComplete(_message.Message):
    __slots__ = ("offsets",)
    class OffsetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    offsets: _containers.ScalarMap[int, int]
    def __init__(self, offsets: _Optional[_Mapping[int, int]] = ...) -> None: ...

class SubscriptionError(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...
