"""The API's routes are declared once, here-shaped: each route adds itself to the router and to the OpenAPI document.

Declaring the body, query and response models beside the handler keeps the document true to what the server does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from inbox.schemas import Error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    # A multipart/form-data body the endpoint also takes (a file upload), beside or instead of the JSON `body`.
    form: type[BaseModel] | None = None
    # What a non-JSON answer is (a CSV download): its media type, the body a string.
    media_type: str | None = None


def add_routes(app: web.Application, endpoints: list[Endpoint]) -> None:
    for endpoint in endpoints:
        app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)


def _schema(model: type[BaseModel], components: dict, mode: str) -> dict:
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel], components: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def document(endpoints: list[Endpoint]) -> dict:
    components: dict[str, dict] = {}
    error = _schema(Error, components, "serialization")
    paths: dict[str, dict] = {}
    for endpoint in endpoints:
        operation: dict = {
            "summary": endpoint.summary,
            "operationId": f"{endpoint.method.lower()}_{endpoint.handler.__module__.rsplit('.', 1)[-1]}"
            f"_{endpoint.handler.__name__}",
            "responses": {
                "4XX": {"description": "bad request, unauthorised, forbidden or not found",
                        "content": {"application/json": {"schema": error}}},
            },
        }
        parameters = [
            {"name": name.strip("{}"), "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
            for name in endpoint.path.split("/") if name.startswith("{")
        ]
        if endpoint.query is not None:
            parameters += _query_parameters(endpoint.query, components)
        if parameters:
            operation["parameters"] = parameters
        content: dict = {}
        if endpoint.body is not None:
            content["application/json"] = {"schema": _schema(endpoint.body, components, "validation")}
        if endpoint.form is not None:
            content["multipart/form-data"] = {"schema": _schema(endpoint.form, components, "validation")}
        if content:
            operation["requestBody"] = {"required": True, "content": content}
        ok: dict = {"description": "done"}
        if endpoint.response is not None:
            ok["content"] = {"application/json": {"schema": _schema(endpoint.response, components, "serialization")}}
        elif endpoint.media_type is not None:
            ok["content"] = {endpoint.media_type: {"schema": {"type": "string"}}}
        operation["responses"][str(endpoint.status)] = ok
        if endpoint.public:
            operation["security"] = []
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "closer inbox API", "version": "1"},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "closer_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    }
