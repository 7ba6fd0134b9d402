"""One error page and one JSON error shape for every 4xx/5xx; tracebacks only reach the log.

JSON shape::

    {"error": {"status": 400, "code": "validation_error", "message": "...",
               "fields": [{"field": "phone", "message": "..."}], "request_id": "..."}}
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from hotspot.errors import Refused

__all__ = ["error_body", "exception_handlers", "refused_response", "wants_html"]

log = logging.getLogger("hotspot.http")
JSON_PREFIXES = ("/api/", "/hooks/", "/healthz")


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """Browsers get the error page; API clients, webhooks and scripts get JSON."""
    if request.url.path.startswith(JSON_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def _code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def error_body(
    status: int,
    message: str,
    request_id: str,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "status": status,
        "code": code or _code(status),
        "message": message,
        "request_id": request_id,
    }
    if fields:
        error["fields"] = fields
    return {"error": error}


def refused_response(request: Request[Any, Any, Any], exc: Refused) -> Response[Any]:
    """A refusal as JSON: `code` its reason, `fields` the input to blame, Retry-After with 429
    (503 when nothing can take the payment now)."""
    status = exc.status_code if 400 <= exc.status_code < 600 else 400
    fields = [{"field": exc.field, "message": exc.message}] if exc.field else None
    request_id = str(request.scope.get("state", {}).get("request_id", "-"))
    return Response(
        error_body(status, exc.message, request_id, code=exc.reason, fields=fields),
        status_code=status,
        media_type=MediaType.JSON,
        headers=exc.headers(),
    )


def _respond(
    request: Request[Any, Any, Any],
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    request_id = request.scope.get("state", {}).get("request_id", "-")
    if wants_html(request):
        title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        return Template(
            template_name="error.html",
            context={"status_code": status, "title": title, "message": message, "request_id": request_id},
            status_code=status,
            headers=headers,
            media_type=MediaType.HTML,
        )
    return Response(
        error_body(status, message, request_id, code=code, fields=fields),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    fields: list[dict[str, str]] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            fields.append(
                {
                    "field": str(item.get("key") or item.get("source") or ""),
                    "message": str(item.get("message")),
                }
            )
    message = "Some fields are missing or invalid." if fields else (exc.detail or "The request is invalid.")
    return _respond(request, exc.status_code, message, code="validation_error", fields=fields)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        log.error("HTTP %s on %s: %s", exc.status_code, request.url.path, exc.detail)
    detail = (
        exc.detail
        if exc.detail and exc.detail != HTTPStatus(exc.status_code).phrase
        else _friendly(exc.status_code)
    )
    return _respond(request, exc.status_code, detail, headers=exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _respond(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Something went wrong on our side. It has been logged; please try again.",
    )


def _friendly(status: int) -> str:
    return {
        400: "The request could not be understood.",
        401: "Please sign in first.",
        403: "You are not allowed to do that.",
        404: "There is nothing at this address.",
        405: "That action is not allowed here.",
        429: "Too many requests. Please wait a moment and try again.",
        503: "The service is temporarily unavailable. Please try again shortly.",
    }.get(status, HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error")


exception_handlers: dict[type[Exception] | int, Any] = {
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
