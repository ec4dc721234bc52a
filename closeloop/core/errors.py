"""Domain errors raised by services and turned into problem+json by the API
and into form errors / messages by the console.

A DomainError always says what went wrong in words a user can act on; `field`
names the input at fault when there is one.
"""

from dataclasses import dataclass, field


@dataclass
class FieldProblem:
    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict:
        return {"field": self.field, "message": str(self.message), "code": self.code}


@dataclass
class DomainError(Exception):
    message: str
    status: int = 400
    code: str = "invalid"
    problems: list[FieldProblem] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return str(self.message)


class ValidationFailed(DomainError):
    """Bad input: 422 with one entry per field at fault."""

    def __init__(self, problems: list[FieldProblem] | FieldProblem, message: str | None = None):
        if isinstance(problems, FieldProblem):
            problems = [problems]
        super().__init__(message or "; ".join(f"{p.field}: {p.message}" for p in problems), 422, "validation", problems)


class NotFound(DomainError):
    def __init__(self, message: str = "Not found."):
        super().__init__(message, 404, "not_found")


class Forbidden(DomainError):
    def __init__(self, message: str):
        super().__init__(message, 403, "forbidden")


class Conflict(DomainError):
    """Someone else changed the object first (409), e.g. a transition race."""

    def __init__(self, message: str, **extra):
        super().__init__(message, 409, "conflict", extra=extra)


class PreconditionFailed(DomainError):
    """A stale If-Match (412)."""

    def __init__(self, message: str, **extra):
        super().__init__(message, 412, "stale_version", extra=extra)
