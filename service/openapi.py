"""The OpenAPI 3.1 description of the API, served at ``GET /openapi.json``.

Written as data next to the code it describes: the input formats come from
``service.validation``, the limits from the handlers' checks, and each response lists
the error codes that operation can answer with. Tests check that the document and the
application's routes match both ways and that every response the service tests see
conforms to it."""

from __future__ import annotations

from typing import Any

from service import validation
from service.aws import UPLOAD_TYPES
from service.body_limit import MAX_BODY_BYTES
from service.sessions import COOKIE

JSON = "application/json"

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], required: list[str] | None = None, closed: bool = False) -> Schema:
    """A JSON object; ``closed`` for request bodies, which refuse unknown fields."""
    schema: Schema = {"type": "object", "properties": properties, "required": required or list(properties)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _text(min_length: int, max_length: int, pattern: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "minLength": min_length, "maxLength": max_length}
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


TIMESTAMP: Schema = {"type": "string", "format": "date-time"}
USER_ID: Schema = {"type": "integer", "minimum": 1, "maximum": validation.MAX_USER_ID}
POST_ID: Schema = {
    "type": "string",
    "pattern": validation.schema_pattern(validation.POST_ID),
    "description": "`<author id>-<ULID>`; the author id is at most 2^63-1",
}
ULID: Schema = {"type": "string", "pattern": validation.schema_pattern(validation.ULID)}

SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": _object(
                {"code": {"type": "string"}, "message": {"type": "string"}},
                closed=True,
            )
        },
        closed=True,
    ),
    "User": _object({"id": USER_ID, "username": {"type": "string"}}),
    "UserSummary": _object({"id": USER_ID, "username": {"type": "string"}, "created_at": TIMESTAMP}),
    "Profile": _object({"display_name": {"type": "string"}, "bio": {"type": "string"}}),
    "UserWithProfile": {
        "allOf": [_ref("UserSummary")],
        "type": "object",
        "properties": {"profile": {"oneOf": [_ref("Profile"), {"type": "null"}]}},
        "required": ["profile"],
    },
    "ProfileResult": _object({"user_id": USER_ID, "display_name": {"type": "string"}, "bio": {"type": "string"}}),
    "Post": _object(
        {
            "id": POST_ID,
            "user_id": USER_ID,
            "body": {"type": "string"},
            "media_key": {"type": ["string", "null"]},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        }
    ),
    "Page": _object(
        {
            "user": _ref("UserSummary"),
            "posts": {"type": "array", "items": _ref("Post"), "maxItems": validation.MAX_PAGE},
            "next_cursor": {"oneOf": [ULID, {"type": "null"}]},
        }
    ),
    "Health": _object({"status": {"const": "ok"}, "stage": {"type": "integer"}, "capabilities": {"type": "object"}}),
    "DeepHealth": _object(
        {
            "status": {"enum": ["ok", "degraded"]},
            "stage": {"type": "integer"},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        }
    ),
    "UploadUrl": _object(
        {
            "url": {"type": "string", "format": "uri"},
            "key": {"type": "string", "pattern": validation.schema_pattern(validation.MEDIA_KEY)},
            "content_type": {"enum": list(UPLOAD_TYPES)},
            "expires_in": {"type": "integer"},
        }
    ),
    "NewUser": _object(
        {
            "username": _text(3, 32, validation.schema_pattern(validation.USERNAME)),
            "password": _text(8, 128),
        },
        closed=True,
    ),
    "Credentials": _object({"username": _text(1, 64), "password": _text(1, 128)}, closed=True),
    "ProfileInput": _object(
        {"display_name": _text(1, 64), "bio": {**_text(0, 280), "default": ""}},
        required=["display_name"],
        closed=True,
    ),
    "PostInput": _object(
        {
            "body": _text(1, 500, validation.NOT_BLANK.pattern),
            "media_key": {
                "type": ["string", "null"],
                "maxLength": 200,
                "pattern": validation.schema_pattern(validation.MEDIA_KEY),
                "description": "a key from POST /media/upload-url for this user; null or absent: no media",
            },
        },
        required=["body"],
        closed=True,
    ),
    "PostPatch": _object({"body": _text(1, 500, validation.NOT_BLANK.pattern)}, closed=True),
    "UploadRequest": _object({"content_type": {"enum": list(UPLOAD_TYPES)}}, closed=True),
}

HEADERS: dict[str, Schema] = {
    "X-Served-By": {"description": "the instance that answered", "required": True, "schema": {"type": "string"}},
    "X-Cache": {
        "description": "hit, miss (looked in the cache, went to the database) or bypass",
        "required": True,
        "schema": {"enum": ["hit", "miss", "bypass"]},
    },
    "X-DB-Route": {
        "description": "every kind of database endpoint that served the request, sessions included: "
        "writer (a primary, a shard, a consistent DynamoDB read), reader (a replica, an eventually "
        "consistent read), both, or none",
        "required": True,
        "schema": {"enum": ["none", "writer", "reader", "writer, reader"]},
    },
    "X-Shard": {
        "description": "every shard the request touched, comma-separated; absent when none",
        "schema": {"type": "string", "pattern": r"^[^,\s]+(, [^,\s]+)*$"},
    },
}
_ALWAYS = {name: {"$ref": f"#/components/headers/{name}"} for name in HEADERS}

ERRORS = {
    400: "bad input: the message names the field and what is allowed",
    401: "no valid session, or wrong credentials",
    403: "not yours",
    404: "not found, or not at this stage",
    409: "conflict",
    413: f"the body is over {MAX_BODY_BYTES} bytes (however it is sent)",
    415: "the body is not sent as application/json",
    500: "unexpected; the detail goes only to the log",
}


def _error(status: int, *codes: str) -> Schema:
    schema = {
        "allOf": [_ref("Error")],
        "properties": {"error": {"properties": {"code": {"enum": list(codes)}}}},
    }
    return {"description": ERRORS[status], "headers": _ALWAYS, "content": {JSON: {"schema": schema}}}


def _ok(description: str, schema: Schema | None, headers: dict[str, Schema] | None = None) -> Schema:
    response: Schema = {"description": description, "headers": {**_ALWAYS, **(headers or {})}}
    if schema is not None:
        response["content"] = {JSON: {"schema": schema}}
    return response


def _operation(
    summary: str,
    responses: dict[int, Schema],
    *,
    body: str | None = None,
    signed_in: bool = False,
    parameters: list[Schema] | None = None,
) -> Schema:
    operation: Schema = {"summary": summary, "responses": {}}
    if parameters:
        operation["parameters"] = parameters
    errors: dict[int, Schema] = {500: _error(500, "internal_error")}
    if signed_in:
        operation["security"] = [{"session": []}]
        errors[401] = _error(401, "unauthenticated")
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": _ref(body)}}}
        errors[413] = _error(413, "body_too_large")
        errors[415] = _error(415, "unsupported_media_type")
    merged = {**errors, **responses}
    operation["responses"] = {str(status): merged[status] for status in sorted(merged)}
    return operation


def _path_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


USER = _path_param("user_id", USER_ID)
POST = _path_param("post_id", POST_ID)
PAGE = [
    USER,
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": validation.MAX_PAGE, "default": validation.DEFAULT_PAGE},
    },
    {"name": "cursor", "in": "query", "schema": {**ULID, "description": "next_cursor of the previous page"}},
]
BODY_ERRORS = ("invalid_json", "invalid_request")
SET_COOKIE = {"Set-Cookie": {"schema": {"type": "string"}, "description": f"the `{COOKIE}` session cookie"}}


def _health_paths() -> dict[str, Schema]:
    return {
        "/health": {"get": _operation("liveness: stage and capabilities", {200: _ok("up", _ref("Health"))})},
        "/health/deep": {
            "get": _operation(
                "readiness: pings the writer, every reader and shard, the cache",
                {200: _ok("every check passed", _ref("DeepHealth")), 503: _ok("a check failed", _ref("DeepHealth"))},
            )
        },
        "/openapi.json": {
            "get": _operation("this document", {200: _ok("the OpenAPI document", {"type": "object"})}),
        },
    }


def _users_paths() -> dict[str, Schema]:
    return {
        "/users": {
            "post": _operation(
                "sign up",
                {
                    201: _ok("created", _ref("User")),
                    400: _error(400, *BODY_ERRORS),
                    409: _error(409, "username_taken"),
                },
                body="NewUser",
            )
        },
        "/sessions": {
            "post": _operation(
                "sign in; sets the session cookie",
                {
                    200: _ok("signed in", _object({"user": _ref("User")}), SET_COOKIE),
                    400: _error(400, *BODY_ERRORS),
                    401: _error(401, "invalid_credentials"),
                },
                body="Credentials",
            ),
            "delete": _operation("sign out", {204: _ok("signed out; the cookie is cleared", None, SET_COOKIE)}),
        },
        "/me": {"get": _operation("who the cookie belongs to", {200: _ok("you", _ref("User"))}, signed_in=True)},
        "/me/profile": {
            "put": _operation(
                "set your profile",
                {200: _ok("stored", _ref("ProfileResult")), 400: _error(400, *BODY_ERRORS)},
                body="ProfileInput",
                signed_in=True,
            )
        },
        "/users/{user_id}": {
            "get": _operation(
                "a user and their profile",
                {
                    200: _ok("the user", _ref("UserWithProfile")),
                    400: _error(400, "invalid_user_id"),
                    404: _error(404, "user_not_found"),
                },
                parameters=[USER],
            )
        },
        "/me/following/{user_id}": {
            "put": _operation(
                "follow",
                {
                    204: _ok("following", None),
                    400: _error(400, "invalid_user_id", "invalid_request"),
                    404: _error(404, "user_not_found"),
                },
                signed_in=True,
                parameters=[USER],
            ),
            "delete": _operation(
                "unfollow",
                {
                    204: _ok("no longer following", None),
                    400: _error(400, "invalid_user_id"),
                    404: _error(404, "not_following"),
                },
                signed_in=True,
                parameters=[USER],
            ),
        },
    }


def _page_operation(summary: str) -> Schema:
    return _operation(
        summary + "; unknown query parameters are refused",
        {
            200: _ok("a page, newest first", _ref("Page")),
            400: _error(400, "invalid_user_id", "invalid_request"),
            404: _error(404, "user_not_found"),
        },
        parameters=PAGE,
    )


def _posts_paths() -> dict[str, Schema]:
    post_errors = {400: _error(400, "invalid_post_id"), 404: _error(404, "post_not_found")}
    own_post_errors = {**post_errors, 403: _error(403, "forbidden")}
    location = {"Location": {"schema": {"type": "string"}, "description": "the new post's path"}}
    return {
        "/posts": {
            "post": _operation(
                "create a post",
                {201: _ok("created", _ref("Post"), location), 400: _error(400, *BODY_ERRORS)},
                body="PostInput",
                signed_in=True,
            )
        },
        "/posts/{post_id}": {
            "get": _operation("one post", {200: _ok("the post", _ref("Post")), **post_errors}, parameters=[POST]),
            "patch": _operation(
                "change your post",
                {
                    200: _ok("changed", _ref("Post")),
                    **own_post_errors,
                    400: _error(400, "invalid_post_id", *BODY_ERRORS),
                },
                body="PostPatch",
                signed_in=True,
                parameters=[POST],
            ),
            "delete": _operation(
                "delete your post",
                {204: _ok("deleted", None), **own_post_errors},
                signed_in=True,
                parameters=[POST],
            ),
        },
        "/users/{user_id}/posts": {"get": _page_operation("a user's own posts")},
        "/users/{user_id}/feed": {
            "get": _page_operation("home timeline: the posts of the user and of the accounts they follow")
        },
        "/media/upload-url": {
            "post": _operation(
                "a presigned upload for an image or video",
                {
                    201: _ok("the upload", _ref("UploadUrl")),
                    400: _error(400, *BODY_ERRORS),
                    404: _error(404, "media_disabled"),
                },
                body="UploadRequest",
                signed_in=True,
            )
        },
    }


DESCRIPTION = (
    "A small social-posting API; each deployment stage changes where the data lives, and the X-* "
    'headers of every response say what a request did. Errors are JSON `{"error": {"code", '
    '"message"}}`; an unknown path answers 404 `not_found`, a known path with another method 405 '
    "`method_not_allowed` with an Allow header. Every GET path also answers HEAD."
)


def document(*, serves_users: bool, serves_posts: bool) -> dict[str, Any]:
    """The document for a service that serves the users routes, the posts routes, or both."""
    paths = _health_paths()
    if serves_users:
        paths |= _users_paths()
    if serves_posts:
        paths |= _posts_paths()
    return {
        "openapi": "3.1.0",
        "info": {"title": "scaling-app service", "version": "1", "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "headers": HEADERS,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": COOKIE}},
        },
    }
