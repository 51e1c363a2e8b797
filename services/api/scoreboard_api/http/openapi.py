"""The OpenAPI document at /schema/openapi.json.

Request bodies are decoded by the handlers themselves (strictly, with msgspec), so Litestar
does not know them; this plugin adds them, the problem+json error responses of every operation,
and the bearer security scheme to Litestar's generated document (rendered once, then cached).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin
from scoreboard_common.policy import BOARD_NAME_MAX_LENGTH, BOARD_NAME_PATTERN

from scoreboard_api.schemas import Problem

_PARAM_RE = re.compile(r"\{(\w+):[^}]+\}")
_ERROR_STATUSES = {
    "400": "Malformed or invalid request",
    "401": "Missing, invalid or expired credentials",
    "403": "Not allowed",
    "404": "Not found",
    "409": "Conflict",
    "413": "Body too large",
    "415": "Unsupported media type",
    "429": "Rate limited",
    "503": "A dependency is unavailable",
}
_REF = "#/components/schemas/{name}"


def _operation_key(handler: HTTPRouteHandler) -> list[tuple[str, str]]:
    keys = []
    for path in handler.paths:
        for method in handler.http_methods:
            keys.append((_PARAM_RE.sub(r"{\1}", path), method.lower()))
    return keys


def _tidy_parameter(parameter: dict[str, Any]) -> None:
    """Query values are never JSON null: ``oneOf [T, null]`` becomes ``T`` with its bounds, and
    board names carry their pattern."""
    schema = parameter.get("schema", {})
    variants = schema.get("oneOf")
    if isinstance(variants, list) and parameter.get("in") == "query":
        kinds = [v for v in variants if v.get("type") != "null"]
        if len(kinds) == 1:
            schema.pop("oneOf")
            schema.update(kinds[0])
    if parameter.get("in") == "path" and parameter.get("name") == "board":
        schema.update(
            {"type": "string", "pattern": BOARD_NAME_PATTERN, "maxLength": BOARD_NAME_MAX_LENGTH}
        )


class ScoreboardOpenAPI(JsonRenderPlugin):
    def __init__(self, handlers: list[HTTPRouteHandler]) -> None:
        super().__init__()
        self._handlers = handlers
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            self._rendered = msgspec.json.encode(self.patch(openapi_schema))
        return self._rendered

    def patch(self, schema: dict[str, Any]) -> dict[str, Any]:
        bodies: dict[tuple[str, str], Any] = {}
        secured: set[tuple[str, str]] = set()
        for handler in self._handlers:
            for key in _operation_key(handler):
                if "body" in handler.opt:
                    bodies[key] = handler.opt["body"]
                if handler.opt.get("auth"):
                    secured.add(key)
        # A body may be a tuple of types (one route, several shapes: the seed score update).
        flat = {
            t for body in bodies.values() for t in (body if isinstance(body, tuple) else (body,))
        }
        types = sorted({*flat, Problem}, key=lambda t: t.__name__)
        (refs, components) = msgspec.json.schema_components(types, ref_template=_REF)
        by_type = dict(zip(types, refs, strict=True))
        all_components = schema.setdefault("components", {})
        schemas = all_components.setdefault("schemas", {})
        for name, component in components.items():
            schemas.setdefault(name, component)
        all_components.setdefault("securitySchemes", {})["BearerAuth"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
        problem = {"application/problem+json": {"schema": by_type[Problem]}}
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                key = (path, method)
                if key in bodies:
                    body = bodies[key]
                    body_schema = (
                        {"oneOf": [by_type[t] for t in body]}
                        if isinstance(body, tuple)
                        else by_type[body]
                    )
                    operation["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {"schema": body_schema}},
                    }
                if key in secured:
                    operation["security"] = [{"BearerAuth": []}]
                for parameter in operation.get("parameters", []):
                    _tidy_parameter(parameter)
                responses = operation["responses"]
                for status, description in _ERROR_STATUSES.items():
                    responses[status] = {"description": description, "content": problem}
        return schema
