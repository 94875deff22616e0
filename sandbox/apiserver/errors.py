"""API errors as Kubernetes ``Status`` objects (k8s.io/apimachinery/pkg/api/errors)."""

from __future__ import annotations

from .resources import Resource

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(res: Resource, name: str, **extra) -> dict:
    d = {"name": name, "kind": res.plural, **extra}
    if res.group:
        d["group"] = res.group
    return d


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, f'{res.group_resource} "{name}" not found', details=_details(res, name))


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(
        409, f'{res.group_resource} "{name}" already exists', "AlreadyExists", _details(res, name)
    )


def conflict(res: Resource, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {res.group_resource} "{name}": {why}',
        "Conflict",
        _details(res, name),
    )


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(res: Resource, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """``causes``: (field path, reason such as FieldValueRequired, message)."""
    kind = f"{res.kind}.{res.group}" if res.group else res.kind
    text = ", ".join(f"{field}: {msg}" for field, _reason, msg in causes)
    prefix = "[" if len(causes) > 1 else ""
    suffix = "]" if len(causes) > 1 else ""
    return ApiError(
        422,
        f'{kind} "{name}" is invalid: {prefix}{text}{suffix}',
        "Invalid",
        _details(res, name, causes=[{"reason": r, "message": m, "field": f} for f, r, m in causes]),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)
