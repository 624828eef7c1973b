import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LandRequest(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: str
    def __init__(self, road: _Optional[str] = ...) -> None: ...

class LandResponse(_message.Message):
    __slots__ = ("landings", "offsets")
    class OffsetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    LANDINGS_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    landings: _containers.RepeatedCompositeFieldContainer[Landing]
    offsets: _containers.ScalarMap[int, int]
    def __init__(self, landings: _Optional[_Iterable[_Union[Landing, _Mapping]]] = ..., offsets: _Optional[_Mapping[int, int]] = ...) -> None: ...

class Landing(_message.Message):
    __slots__ = ("acquisition_instant", "location", "records", "files", "offsets", "commit_time")
    class OffsetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    ACQUISITION_INSTANT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    acquisition_instant: str
    location: str
    records: int
    files: int
    offsets: _containers.ScalarMap[int, int]
    commit_time: _timestamp_pb2.Timestamp
    def __init__(self, acquisition_instant: _Optional[str] = ..., location: _Optional[str] = ..., records: _Optional[int] = ..., files: _Optional[int] = ..., offsets: _Optional[_Mapping[int, int]] = ..., commit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: str
    def __init__(self, road: _Optional[str] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ("landings", "snapshot", "taken_now")
    LANDINGS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    TAKEN_NOW_FIELD_NUMBER: _ClassVar[int]
    landings: _containers.RepeatedCompositeFieldContainer[Landing]
    snapshot: TableSnapshot
    taken_now: bool
    def __init__(self, landings: _Optional[_Iterable[_Union[Landing, _Mapping]]] = ..., snapshot: _Optional[_Union[TableSnapshot, _Mapping]] = ..., taken_now: _Optional[bool] = ...) -> None: ...

class TableSnapshot(_message.Message):
    __slots__ = ("snapshot_date", "location", "keys", "files", "offsets", "through_acquisition_instant", "previous_snapshot_date", "commit_time")
    class OffsetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    SNAPSHOT_DATE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    THROUGH_ACQUISITION_INSTANT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SNAPSHOT_DATE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_TIME_FIELD_NUMBER: _ClassVar[int]
    snapshot_date: str
    location: str
    keys: int
    files: int
    offsets: _containers.ScalarMap[int, int]
    through_acquisition_instant: str
    previous_snapshot_date: str
    commit_time: _timestamp_pb2.Timestamp
    def __init__(self, snapshot_date: _Optional[str] = ..., location: _Optional[str] = ..., keys: _Optional[int] = ..., files: _Optional[int] = ..., offsets: _Optional[_Mapping[int, int]] = ..., through_acquisition_instant: _Optional[str] = ..., previous_snapshot_date: _Optional[str] = ..., commit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTableRequest(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: str
    def __init__(self, road: _Optional[str] = ...) -> None: ...

class GetTableResponse(_message.Message):
    __slots__ = ("name", "location", "ddl", "partitions", "snapshot_ddl", "snapshot_partitions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    DDL_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_DDL_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    location: str
    ddl: str
    partitions: _containers.RepeatedScalarFieldContainer[str]
    snapshot_ddl: str
    snapshot_partitions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., location: _Optional[str] = ..., ddl: _Optional[str] = ..., partitions: _Optional[_Iterable[str]] = ..., snapshot_ddl: _Optional[str] = ..., snapshot_partitions: _Optional[_Iterable[str]] = ...) -> None: ...
