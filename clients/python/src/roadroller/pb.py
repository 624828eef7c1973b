"""The generated `roadroller.v1` messages, enums, enum values and service
stubs, for anything the wrapper does not cover::

    from roadroller import pb
    road = pb.Road(name="prices", type=pb.ROAD_TYPE_COMPACTED)
    stub = pb.PaverServiceStub(channel)
"""

from ._generated.v1 import *  # noqa: F403
from ._generated.v1 import __all__ as __all__
