"""What the control plane answers when it says no: each error carries its HTTP status."""

from __future__ import annotations

from meshwork.core.errors import MeshError


class ServiceRefusal(MeshError):
    status = 400


class Unauthenticated(ServiceRefusal):
    status = 401


class Forbidden(ServiceRefusal):
    status = 403


class NotFound(ServiceRefusal):
    status = 404


class Conflict(ServiceRefusal):
    status = 409
