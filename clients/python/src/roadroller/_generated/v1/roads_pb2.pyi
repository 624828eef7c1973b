import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoadType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROAD_TYPE_UNSPECIFIED: _ClassVar[RoadType]
    ROAD_TYPE_STREAM: _ClassVar[RoadType]
    ROAD_TYPE_COMPACTED: _ClassVar[RoadType]

class CompatibilityMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPATIBILITY_MODE_UNSPECIFIED: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_NONE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_BACKWARD: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_BACKWARD_TRANSITIVE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FORWARD: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FORWARD_TRANSITIVE: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FULL: _ClassVar[CompatibilityMode]
    COMPATIBILITY_MODE_FULL_TRANSITIVE: _ClassVar[CompatibilityMode]

class Grant(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANT_UNSPECIFIED: _ClassVar[Grant]
    GRANT_PUBLIC: _ClassVar[Grant]
    GRANT_PII: _ClassVar[Grant]
ROAD_TYPE_UNSPECIFIED: RoadType
ROAD_TYPE_STREAM: RoadType
ROAD_TYPE_COMPACTED: RoadType
COMPATIBILITY_MODE_UNSPECIFIED: CompatibilityMode
COMPATIBILITY_MODE_NONE: CompatibilityMode
COMPATIBILITY_MODE_BACKWARD: CompatibilityMode
COMPATIBILITY_MODE_BACKWARD_TRANSITIVE: CompatibilityMode
COMPATIBILITY_MODE_FORWARD: CompatibilityMode
COMPATIBILITY_MODE_FORWARD_TRANSITIVE: CompatibilityMode
COMPATIBILITY_MODE_FULL: CompatibilityMode
COMPATIBILITY_MODE_FULL_TRANSITIVE: CompatibilityMode
GRANT_UNSPECIFIED: Grant
GRANT_PUBLIC: Grant
GRANT_PII: Grant

class Road(_message.Message):
    __slots__ = ("name", "type", "description", "team_name", "contact_email", "metadata", "enabled", "partition_path", "partitions", "retention", "compaction", "compatibility_mode", "authorisation", "hive_destination", "status", "message_count", "latest_schema_version", "deleting", "create_time", "update_time", "etag", "quotas", "materialized", "table")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TEAM_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTACT_EMAIL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    PARTITION_PATH_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_FIELD_NUMBER: _ClassVar[int]
    COMPATIBILITY_MODE_FIELD_NUMBER: _ClassVar[int]
    AUTHORISATION_FIELD_NUMBER: _ClassVar[int]
    HIVE_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    LATEST_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    DELETING_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    QUOTAS_FIELD_NUMBER: _ClassVar[int]
    MATERIALIZED_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: RoadType
    description: str
    team_name: str
    contact_email: str
    metadata: _containers.ScalarMap[str, str]
    enabled: bool
    partition_path: str
    partitions: int
    retention: _duration_pb2.Duration
    compaction: Compaction
    compatibility_mode: CompatibilityMode
    authorisation: Authorisation
    hive_destination: HiveDestination
    status: RoadStatus
    message_count: int
    latest_schema_version: int
    deleting: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    quotas: RoadQuotas
    materialized: bool
    table: TableStatus
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[RoadType, str]] = ..., description: _Optional[str] = ..., team_name: _Optional[str] = ..., contact_email: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., enabled: _Optional[bool] = ..., partition_path: _Optional[str] = ..., partitions: _Optional[int] = ..., retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., compaction: _Optional[_Union[Compaction, _Mapping]] = ..., compatibility_mode: _Optional[_Union[CompatibilityMode, str]] = ..., authorisation: _Optional[_Union[Authorisation, _Mapping]] = ..., hive_destination: _Optional[_Union[HiveDestination, _Mapping]] = ..., status: _Optional[_Union[RoadStatus, _Mapping]] = ..., message_count: _Optional[int] = ..., latest_schema_version: _Optional[int] = ..., deleting: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., quotas: _Optional[_Union[RoadQuotas, _Mapping]] = ..., materialized: _Optional[bool] = ..., table: _Optional[_Union[TableStatus, _Mapping]] = ...) -> None: ...

class TableStatus(_message.Message):
    __slots__ = ("ready", "live_keys", "tombstones_pending", "offsets", "last_problem", "records_applied")
    class OffsetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    READY_FIELD_NUMBER: _ClassVar[int]
    LIVE_KEYS_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_PENDING_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    LAST_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    RECORDS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    ready: bool
    live_keys: int
    tombstones_pending: int
    offsets: _containers.ScalarMap[int, int]
    last_problem: str
    records_applied: int
    def __init__(self, ready: _Optional[bool] = ..., live_keys: _Optional[int] = ..., tombstones_pending: _Optional[int] = ..., offsets: _Optional[_Mapping[int, int]] = ..., last_problem: _Optional[str] = ..., records_applied: _Optional[int] = ...) -> None: ...

class RoadQuotas(_message.Message):
    __slots__ = ("produce_records_per_second", "produce_bytes_per_second", "offramp_bytes_per_second", "max_subscriptions", "max_snapshot_subscriptions")
    PRODUCE_RECORDS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    PRODUCE_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    OFFRAMP_BYTES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_SNAPSHOT_SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    produce_records_per_second: int
    produce_bytes_per_second: int
    offramp_bytes_per_second: int
    max_subscriptions: int
    max_snapshot_subscriptions: int
    def __init__(self, produce_records_per_second: _Optional[int] = ..., produce_bytes_per_second: _Optional[int] = ..., offramp_bytes_per_second: _Optional[int] = ..., max_subscriptions: _Optional[int] = ..., max_snapshot_subscriptions: _Optional[int] = ...) -> None: ...

class Compaction(_message.Message):
    __slots__ = ("min_compaction_lag", "tombstone_retention")
    MIN_COMPACTION_LAG_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONE_RETENTION_FIELD_NUMBER: _ClassVar[int]
    min_compaction_lag: _duration_pb2.Duration
    tombstone_retention: _duration_pb2.Duration
    def __init__(self, min_compaction_lag: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., tombstone_retention: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Authorisation(_message.Message):
    __slots__ = ("onramp", "offramp", "admins")
    ONRAMP_FIELD_NUMBER: _ClassVar[int]
    OFFRAMP_FIELD_NUMBER: _ClassVar[int]
    ADMINS_FIELD_NUMBER: _ClassVar[int]
    onramp: OnrampAuthorisation
    offramp: OfframpAuthorisation
    admins: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, onramp: _Optional[_Union[OnrampAuthorisation, _Mapping]] = ..., offramp: _Optional[_Union[OfframpAuthorisation, _Mapping]] = ..., admins: _Optional[_Iterable[str]] = ...) -> None: ...

class OnrampAuthorisation(_message.Message):
    __slots__ = ("authorities", "cidr_blocks")
    AUTHORITIES_FIELD_NUMBER: _ClassVar[int]
    CIDR_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    authorities: _containers.RepeatedScalarFieldContainer[str]
    cidr_blocks: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, authorities: _Optional[_Iterable[str]] = ..., cidr_blocks: _Optional[_Iterable[str]] = ...) -> None: ...

class OfframpAuthorisation(_message.Message):
    __slots__ = ("authorities",)
    class AuthoritiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Grants
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Grants, _Mapping]] = ...) -> None: ...
    AUTHORITIES_FIELD_NUMBER: _ClassVar[int]
    authorities: _containers.MessageMap[str, Grants]
    def __init__(self, authorities: _Optional[_Mapping[str, Grants]] = ...) -> None: ...

class Grants(_message.Message):
    __slots__ = ("grants",)
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    grants: _containers.RepeatedScalarFieldContainer[Grant]
    def __init__(self, grants: _Optional[_Iterable[_Union[Grant, str]]] = ...) -> None: ...

class HiveDestination(_message.Message):
    __slots__ = ("enabled", "landing_interval", "status", "snapshot")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    LANDING_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    landing_interval: _duration_pb2.Duration
    status: HiveStatus
    snapshot: HiveSnapshot
    def __init__(self, enabled: _Optional[bool] = ..., landing_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., status: _Optional[_Union[HiveStatus, _Mapping]] = ..., snapshot: _Optional[_Union[HiveSnapshot, _Mapping]] = ...) -> None: ...

class HiveSnapshot(_message.Message):
    __slots__ = ("enabled", "time")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    time: str
    def __init__(self, enabled: _Optional[bool] = ..., time: _Optional[str] = ...) -> None: ...

class HiveStatus(_message.Message):
    __slots__ = ("last_landing_time", "last_acquisition_instant", "offsets", "last_records", "last_files", "last_error", "last_snapshot_date", "last_snapshot_keys")
    class OffsetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    LAST_LANDING_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ACQUISITION_INSTANT_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    LAST_RECORDS_FIELD_NUMBER: _ClassVar[int]
    LAST_FILES_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_SNAPSHOT_DATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SNAPSHOT_KEYS_FIELD_NUMBER: _ClassVar[int]
    last_landing_time: _timestamp_pb2.Timestamp
    last_acquisition_instant: str
    offsets: _containers.ScalarMap[int, int]
    last_records: int
    last_files: int
    last_error: str
    last_snapshot_date: str
    last_snapshot_keys: int
    def __init__(self, last_landing_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_acquisition_instant: _Optional[str] = ..., offsets: _Optional[_Mapping[int, int]] = ..., last_records: _Optional[int] = ..., last_files: _Optional[int] = ..., last_error: _Optional[str] = ..., last_snapshot_date: _Optional[str] = ..., last_snapshot_keys: _Optional[int] = ...) -> None: ...

class RoadStatus(_message.Message):
    __slots__ = ("topic_name", "topic_created", "partitions", "replication_factor", "last_problem", "drift", "update_time")
    TOPIC_NAME_FIELD_NUMBER: _ClassVar[int]
    TOPIC_CREATED_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    LAST_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    topic_name: str
    topic_created: bool
    partitions: int
    replication_factor: int
    last_problem: str
    drift: _containers.RepeatedCompositeFieldContainer[ConfigDrift]
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, topic_name: _Optional[str] = ..., topic_created: _Optional[bool] = ..., partitions: _Optional[int] = ..., replication_factor: _Optional[int] = ..., last_problem: _Optional[str] = ..., drift: _Optional[_Iterable[_Union[ConfigDrift, _Mapping]]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfigDrift(_message.Message):
    __slots__ = ("config", "expected", "actual")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    config: str
    expected: str
    actual: str
    def __init__(self, config: _Optional[str] = ..., expected: _Optional[str] = ..., actual: _Optional[str] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("road", "version", "schema", "deleted", "create_time")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    road: str
    version: int
    schema: str
    deleted: bool
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, road: _Optional[str] = ..., version: _Optional[int] = ..., schema: _Optional[str] = ..., deleted: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
