import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResetBoundary(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESET_BOUNDARY_UNSPECIFIED: _ClassVar[ResetBoundary]
    RESET_BOUNDARY_EARLIEST: _ClassVar[ResetBoundary]
    RESET_BOUNDARY_LATEST: _ClassVar[ResetBoundary]
RESET_BOUNDARY_UNSPECIFIED: ResetBoundary
RESET_BOUNDARY_EARLIEST: ResetBoundary
RESET_BOUNDARY_LATEST: ResetBoundary

class Stream(_message.Message):
    __slots__ = ("road", "name", "consumer_group", "state", "members", "partitions", "lag")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    road: str
    name: str
    consumer_group: str
    state: str
    members: int
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionLag]
    lag: int
    def __init__(self, road: _Optional[str] = ..., name: _Optional[str] = ..., consumer_group: _Optional[str] = ..., state: _Optional[str] = ..., members: _Optional[int] = ..., partitions: _Optional[_Iterable[_Union[PartitionLag, _Mapping]]] = ..., lag: _Optional[int] = ...) -> None: ...

class PartitionLag(_message.Message):
    __slots__ = ("partition", "committed_offset", "end_offset", "lag")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    partition: int
    committed_offset: int
    end_offset: int
    lag: int
    def __init__(self, partition: _Optional[int] = ..., committed_offset: _Optional[int] = ..., end_offset: _Optional[int] = ..., lag: _Optional[int] = ...) -> None: ...

class ListStreamsRequest(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: str
    def __init__(self, road: _Optional[str] = ...) -> None: ...

class ListStreamsResponse(_message.Message):
    __slots__ = ("streams",)
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    streams: _containers.RepeatedCompositeFieldContainer[Stream]
    def __init__(self, streams: _Optional[_Iterable[_Union[Stream, _Mapping]]] = ...) -> None: ...

class GetStreamRequest(_message.Message):
    __slots__ = ("road", "stream")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    road: str
    stream: str
    def __init__(self, road: _Optional[str] = ..., stream: _Optional[str] = ...) -> None: ...

class GetStreamResponse(_message.Message):
    __slots__ = ("stream",)
    STREAM_FIELD_NUMBER: _ClassVar[int]
    stream: Stream
    def __init__(self, stream: _Optional[_Union[Stream, _Mapping]] = ...) -> None: ...

class StreamPosition(_message.Message):
    __slots__ = ("boundary", "timestamp", "offsets")
    BOUNDARY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    boundary: ResetBoundary
    timestamp: _timestamp_pb2.Timestamp
    offsets: PartitionPositions
    def __init__(self, boundary: _Optional[_Union[ResetBoundary, str]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., offsets: _Optional[_Union[PartitionPositions, _Mapping]] = ...) -> None: ...

class PartitionPositions(_message.Message):
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

class ResetStreamRequest(_message.Message):
    __slots__ = ("road", "stream", "to")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    road: str
    stream: str
    to: StreamPosition
    def __init__(self, road: _Optional[str] = ..., stream: _Optional[str] = ..., to: _Optional[_Union[StreamPosition, _Mapping]] = ...) -> None: ...

class ResetStreamResponse(_message.Message):
    __slots__ = ("stream",)
    STREAM_FIELD_NUMBER: _ClassVar[int]
    stream: Stream
    def __init__(self, stream: _Optional[_Union[Stream, _Mapping]] = ...) -> None: ...

class DeleteStreamRequest(_message.Message):
    __slots__ = ("road", "stream")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    road: str
    stream: str
    def __init__(self, road: _Optional[str] = ..., stream: _Optional[str] = ...) -> None: ...

class DeleteStreamResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
