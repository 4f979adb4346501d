"""Checks a response against the OpenAPI document the service serves: its path and
method are documented (or it is the documented 404/405), its status is one the
operation lists, and its JSON body and X-* headers match the schemas."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import httpx
import orjson
from jsonschema import Draft202012Validator


class Nonconforming(AssertionError):
    pass


class OpenApiCheck:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        # Literal paths first, so /users/{user_id} never shadows a fixed path.
        self._paths = sorted(
            ((re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(p)) + "$"), p) for p in document["paths"]),
            key=lambda item: "{" in item[1],
        )
        self._validator = cache(self._make_validator)

    def _make_validator(self, pointer: str) -> Draft202012Validator:
        node: Any = self.document
        for part in pointer.split("/")[1:]:
            node = node[part.replace("~1", "/")]
        # The document's components ride along so that "#/components/..." resolves.
        return Draft202012Validator({"allOf": [node], "components": self.document["components"]})

    def template(self, path: str) -> str | None:
        return next((template for regex, template in self._paths if regex.match(path)), None)

    def check(self, response: httpx.Response) -> None:
        request = response.request
        method = request.method.lower()
        path = request.url.path
        template = self.template(path)
        body = orjson.loads(response.content) if response.content else None
        if template is None or method not in self.document["paths"][template]:
            expected = {None: (404, "not_found")}.get(template, (405, "method_not_allowed"))
            if method == "head" and template is not None and "get" in self.document["paths"][template]:
                return
            if (response.status_code, (body or {}).get("error", {}).get("code")) != expected:
                raise Nonconforming(f"{request.method} {path}: {response.status_code} {response.text[:200]}")
            return
        operation = f"/paths/{template.replace('/', '~1')}/{method}"
        status = str(response.status_code)
        if status not in self.document["paths"][template][method]["responses"]:
            raise Nonconforming(
                f"{request.method} {template}: status {status} is not documented: {response.text[:300]}"
            )
        documented = self.document["paths"][template][method]["responses"][status]
        self._check_headers(response, documented, template)
        if "content" in documented:
            if response.headers.get("content-type") != "application/json":
                raise Nonconforming(f"{request.method} {template} {status}: not JSON")
            errors = list(
                self._validator(f"{operation}/responses/{status}/content/application~1json/schema").iter_errors(body)
            )
            if errors:
                raise Nonconforming(f"{request.method} {template} {status}: {errors[0].message} in {body!r:.300}")
        elif response.content:
            raise Nonconforming(f"{request.method} {template} {status}: a body where none is documented")

    def _check_headers(self, response: httpx.Response, documented: dict[str, Any], template: str) -> None:
        for name, header in documented.get("headers", {}).items():
            pointer = header["$ref"][1:] if "$ref" in header else None
            if pointer is not None:
                header = self.document["components"]["headers"][pointer.rsplit("/", 1)[1]]
            value = response.headers.get(name)
            if value is None:
                if header.get("required"):
                    raise Nonconforming(f"{template}: no {name} header")
                continue
            if pointer is not None:
                errors = list(self._validator(pointer + "/schema").iter_errors(value))
                if errors:
                    raise Nonconforming(f"{template}: {name}: {errors[0].message}")
