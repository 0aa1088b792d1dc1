"""The HTTP API's typed contract: request bodies (``bodies``), the records answered
(``records``, derived from the dataclasses of ``truceguard.model``), the answers and the error
envelope (``answers``). ``/openapi.json`` is built from these models."""

from truceguard.server.schemas.answers import *  # noqa: F403
from truceguard.server.schemas.answers import __all__ as _answers
from truceguard.server.schemas.bodies import *  # noqa: F403
from truceguard.server.schemas.bodies import __all__ as _bodies
from truceguard.server.schemas.records import *  # noqa: F403
from truceguard.server.schemas.records import __all__ as _records

__all__ = [*_answers, *_bodies, *_records]
