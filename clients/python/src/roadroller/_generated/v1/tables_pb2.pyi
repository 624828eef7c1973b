import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from . import offramp_pb2 as _offramp_pb2
from . import roads_pb2 as _roads_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Entry(_message.Message):
    __slots__ = ("key", "payload", "schema_version", "partition", "offset", "timestamp")
    KEY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    key: str
    payload: str
    schema_version: int
    partition: int
    offset: int
    timestamp: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., payload: _Optional[str] = ..., schema_version: _Optional[int] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetEntryRequest(_message.Message):
    __slots__ = ("road", "key", "min_offsets", "fail_if_behind", "grants")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    MIN_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    FAIL_IF_BEHIND_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    road: str
    key: str
    min_offsets: _offramp_pb2.PartitionOffsets
    fail_if_behind: bool
    grants: _containers.RepeatedScalarFieldContainer[_roads_pb2.Grant]
    def __init__(self, road: _Optional[str] = ..., key: _Optional[str] = ..., min_offsets: _Optional[_Union[_offramp_pb2.PartitionOffsets, _Mapping]] = ..., fail_if_behind: _Optional[bool] = ..., grants: _Optional[_Iterable[_Union[_roads_pb2.Grant, str]]] = ...) -> None: ...

class GetEntryResponse(_message.Message):
    __slots__ = ("entry", "view_offsets")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    VIEW_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    entry: Entry
    view_offsets: _offramp_pb2.PartitionOffsets
    def __init__(self, entry: _Optional[_Union[Entry, _Mapping]] = ..., view_offsets: _Optional[_Union[_offramp_pb2.PartitionOffsets, _Mapping]] = ...) -> None: ...

class BatchGetEntriesRequest(_message.Message):
    __slots__ = ("road", "keys", "min_offsets", "fail_if_behind", "grants")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    MIN_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    FAIL_IF_BEHIND_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    road: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    min_offsets: _offramp_pb2.PartitionOffsets
    fail_if_behind: bool
    grants: _containers.RepeatedScalarFieldContainer[_roads_pb2.Grant]
    def __init__(self, road: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ..., min_offsets: _Optional[_Union[_offramp_pb2.PartitionOffsets, _Mapping]] = ..., fail_if_behind: _Optional[bool] = ..., grants: _Optional[_Iterable[_Union[_roads_pb2.Grant, str]]] = ...) -> None: ...

class BatchGetEntriesResponse(_message.Message):
    __slots__ = ("results", "view_offsets")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    VIEW_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[EntryResult]
    view_offsets: _offramp_pb2.PartitionOffsets
    def __init__(self, results: _Optional[_Iterable[_Union[EntryResult, _Mapping]]] = ..., view_offsets: _Optional[_Union[_offramp_pb2.PartitionOffsets, _Mapping]] = ...) -> None: ...

class EntryResult(_message.Message):
    __slots__ = ("key", "entry")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    key: str
    entry: Entry
    def __init__(self, key: _Optional[str] = ..., entry: _Optional[_Union[Entry, _Mapping]] = ...) -> None: ...

class ListEntriesRequest(_message.Message):
    __slots__ = ("road", "page_size", "page_token", "key_prefix", "grants")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    road: str
    page_size: int
    page_token: str
    key_prefix: str
    grants: _containers.RepeatedScalarFieldContainer[_roads_pb2.Grant]
    def __init__(self, road: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., key_prefix: _Optional[str] = ..., grants: _Optional[_Iterable[_Union[_roads_pb2.Grant, str]]] = ...) -> None: ...

class ListEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token", "view_offsets")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[Entry]
    next_page_token: str
    view_offsets: _offramp_pb2.PartitionOffsets
    def __init__(self, entries: _Optional[_Iterable[_Union[Entry, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., view_offsets: _Optional[_Union[_offramp_pb2.PartitionOffsets, _Mapping]] = ...) -> None: ...
