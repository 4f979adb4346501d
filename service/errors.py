"""Client errors as JSON, and the checks that turn bad input into them."""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request

from service import validation


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> bytes:
        return orjson.dumps({"error": {"code": self.code, "message": self.message}})


def bad_request(message: str, code: str = "invalid_request") -> ApiError:
    return ApiError(400, code, message)


async def json_object(request: Request, allowed: set[str]) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            "send a JSON body with Content-Type: application/json",
        )
    # Bounded by service.body_limit.BodyLimit, which refuses a body past the limit as it arrives.
    raw = await request.body()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("the body is not valid JSON", "invalid_json") from None
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object", "invalid_json")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise bad_request(f"unknown fields: {', '.join(unknown)}")
    return data


def text_field(
    data: dict[str, Any],
    name: str,
    min_len: int,
    max_len: int,
    pattern: re.Pattern[str] | None = None,
) -> str:
    value = data.get(name)
    if value is None:
        raise bad_request(f"{name} is required")
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    if not min_len <= len(value) <= max_len:
        raise bad_request(f"{name} must be {min_len} to {max_len} characters")
    if pattern is not None and not validation.matches(pattern, value):
        raise bad_request(f"{name} must match {validation.schema_pattern(pattern)}")
    return value


def user_id_param(raw: str) -> int:
    user_id = validation.user_id(raw)
    if user_id is None:
        raise bad_request("user id must be a positive integer", "invalid_user_id")
    return user_id
