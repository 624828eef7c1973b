from google.protobuf import field_mask_pb2 as _field_mask_pb2
from . import roads_pb2 as _roads_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateRoadRequest(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: _roads_pb2.Road
    def __init__(self, road: _Optional[_Union[_roads_pb2.Road, _Mapping]] = ...) -> None: ...

class CreateRoadResponse(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: _roads_pb2.Road
    def __init__(self, road: _Optional[_Union[_roads_pb2.Road, _Mapping]] = ...) -> None: ...

class GetRoadRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetRoadResponse(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: _roads_pb2.Road
    def __init__(self, road: _Optional[_Union[_roads_pb2.Road, _Mapping]] = ...) -> None: ...

class ListRoadsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "type")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    type: _roads_pb2.RoadType
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., type: _Optional[_Union[_roads_pb2.RoadType, str]] = ...) -> None: ...

class ListRoadsResponse(_message.Message):
    __slots__ = ("roads", "next_page_token")
    ROADS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    roads: _containers.RepeatedCompositeFieldContainer[_roads_pb2.Road]
    next_page_token: str
    def __init__(self, roads: _Optional[_Iterable[_Union[_roads_pb2.Road, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateRoadRequest(_message.Message):
    __slots__ = ("road", "update_mask")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    road: _roads_pb2.Road
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, road: _Optional[_Union[_roads_pb2.Road, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateRoadResponse(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: _roads_pb2.Road
    def __init__(self, road: _Optional[_Union[_roads_pb2.Road, _Mapping]] = ...) -> None: ...

class DeleteRoadRequest(_message.Message):
    __slots__ = ("name", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteRoadResponse(_message.Message):
    __slots__ = ("road",)
    ROAD_FIELD_NUMBER: _ClassVar[int]
    road: _roads_pb2.Road
    def __init__(self, road: _Optional[_Union[_roads_pb2.Road, _Mapping]] = ...) -> None: ...

class RegisterSchemaRequest(_message.Message):
    __slots__ = ("road", "schema", "version")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    road: str
    schema: str
    version: int
    def __init__(self, road: _Optional[str] = ..., schema: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class RegisterSchemaResponse(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: _roads_pb2.Schema
    def __init__(self, schema: _Optional[_Union[_roads_pb2.Schema, _Mapping]] = ...) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("road", "version")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    road: str
    version: int
    def __init__(self, road: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetSchemaResponse(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: _roads_pb2.Schema
    def __init__(self, schema: _Optional[_Union[_roads_pb2.Schema, _Mapping]] = ...) -> None: ...

class ListSchemasRequest(_message.Message):
    __slots__ = ("road", "include_deleted")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    road: str
    include_deleted: bool
    def __init__(self, road: _Optional[str] = ..., include_deleted: _Optional[bool] = ...) -> None: ...

class ListSchemasResponse(_message.Message):
    __slots__ = ("schemas",)
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    schemas: _containers.RepeatedCompositeFieldContainer[_roads_pb2.Schema]
    def __init__(self, schemas: _Optional[_Iterable[_Union[_roads_pb2.Schema, _Mapping]]] = ...) -> None: ...

class DeleteSchemaRequest(_message.Message):
    __slots__ = ("road", "version")
    ROAD_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    road: str
    version: int
    def __init__(self, road: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class DeleteSchemaResponse(_message.Message):
    __slots__ = ("schema",)
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    schema: _roads_pb2.Schema
    def __init__(self, schema: _Optional[_Union[_roads_pb2.Schema, _Mapping]] = ...) -> None: ...
