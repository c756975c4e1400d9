"""Service-level errors the UI and CLI turn into messages (never tracebacks)."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: the message is safe to show to the user."""


class PermissionDenied(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    """Someone else changed the record since it was loaded (optimistic locking)."""


class InvalidInput(ServiceError):
    pass
