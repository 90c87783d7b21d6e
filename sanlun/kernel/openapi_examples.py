"""Examples in the generated OpenAPI keep their `null`s (see the notes below)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import routing as fastapi_routing
from fastapi._compat import get_definitions, get_flat_models_from_fields, get_model_name_map
from fastapi.openapi.utils import _get_api_route_for_openapi, get_fields_from_routes, get_openapi_path
from pydantic_core import to_jsonable_python

# `get_openapi` ends with `jsonable_encoder(OpenAPI(**output), exclude_none=True)`,
# which drops every `null`-valued key of the whole document, examples included:
# a required nullable field whose example value is null vanishes from the
# example, which then no longer validates against its own schema. FastAPI's
# own behaviour is kept for everything else (no `"default": null` appears);
# only the examples are put back as declared.
#
# The values come from a "raw twin" of the document: the same FastAPI helpers
# `get_openapi` calls (same routes, same model name map, same pydantic schema
# generator, so the very same component names, `-Input`/`-Output` suffixes
# and module-qualified names for models that share a class name), minus the
# final encoding. Nothing is matched by class name: a component is its raw
# definition of the same name, a parameter is matched by (in, name), a media
# type by path, method, status and media type. FastAPI is pinned (0.165.x),
# and the tests check the result (tests/test_openapi_examples.py).

_SUBSCHEMA_KEYWORDS = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
    "itemSchema",
)
_SUBSCHEMA_LIST_KEYWORDS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def restore_example_nulls(schema: dict[str, Any], routes: Sequence[Any]) -> None:
    """Put back, in place, the examples of `schema` (built by `get_openapi`
    from `routes`) as the models, fields, parameters and bodies declare them,
    `null`s included."""
    raw_definitions, raw_paths = _raw_openapi(routes)
    components = schema.get("components", {}).get("schemas", {})
    for name, raw in raw_definitions.items():
        if name in components:
            _restore_schema(components[name], raw)
    for path, raw_item in raw_paths.items():
        for method, raw_operation in raw_item.items():
            operation = schema.get("paths", {}).get(path, {}).get(method)
            if isinstance(operation, dict):
                _restore_operation(operation, raw_operation)


def _raw_openapi(routes: Sequence[Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Component definitions and paths as `get_openapi` assembles them, before it encodes them."""
    fields = get_fields_from_routes(list(routes))
    model_name_map = get_model_name_map(get_flat_models_from_fields(fields, known_models=set()))
    field_mapping, definitions = get_definitions(fields=fields, model_name_map=model_name_map)
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for route_context in fastapi_routing.iter_route_contexts(list(routes)):
        route = _get_api_route_for_openapi(route_context)
        if route is None:
            continue
        path, _, path_definitions = get_openapi_path(
            route=route,
            operation_ids=operation_ids,
            model_name_map=model_name_map,
            field_mapping=field_mapping,
        )
        if path:
            paths.setdefault(route.path_format, {}).update(path)
        definitions.update(path_definitions)
    return definitions, paths


def _encode(value: Any) -> Any:
    # As `jsonable_encoder` renders an `Any` field of the OpenAPI model (pydantic's JSON mode), nulls kept.
    return to_jsonable_python(value)


def _restore_schema(schema: Any, raw: Any) -> None:
    if not isinstance(schema, dict) or not isinstance(raw, dict):
        return
    for key in ("examples", "example"):
        if key in raw:
            schema[key] = _encode(raw[key])
    for key in _SUBSCHEMA_KEYWORDS:
        _restore_schema(schema.get(key), raw.get(key))
    for key in _SUBSCHEMA_LIST_KEYWORDS:
        subs, raw_subs = schema.get(key), raw.get(key)
        if isinstance(subs, list) and isinstance(raw_subs, list) and len(subs) == len(raw_subs):
            for sub, raw_sub in zip(subs, raw_subs, strict=True):
                _restore_schema(sub, raw_sub)
    for key in _SUBSCHEMA_MAP_KEYWORDS:
        subs, raw_subs = schema.get(key), raw.get(key)
        if isinstance(subs, dict) and isinstance(raw_subs, dict):
            for name, raw_sub in raw_subs.items():
                _restore_schema(subs.get(name), raw_sub)


def _restore_media(media: Any, raw: Any) -> None:
    """A media type, a parameter or a header: its schema, `example` and each `examples` entry's `value`."""
    if not isinstance(media, dict) or not isinstance(raw, dict):
        return
    _restore_schema(media.get("schema"), raw.get("schema"))
    if "example" in raw:
        media["example"] = _encode(raw["example"])
    examples, raw_examples = media.get("examples"), raw.get("examples")
    if isinstance(examples, dict) and isinstance(raw_examples, dict):
        for name, raw_example in raw_examples.items():
            example = examples.get(name)
            if isinstance(example, dict) and isinstance(raw_example, dict) and "value" in raw_example:
                example["value"] = _encode(raw_example["value"])


def _restore_content(content: Any, raw: Any) -> None:
    if isinstance(content, dict) and isinstance(raw, dict):
        for media_type, raw_media in raw.items():
            _restore_media(content.get(media_type), raw_media)


def _restore_operation(operation: dict[str, Any], raw: dict[str, Any]) -> None:
    raw_parameters = {(p.get("in"), p.get("name")): p for p in raw.get("parameters", []) if isinstance(p, dict)}
    for parameter in operation.get("parameters", []):
        if isinstance(parameter, dict):
            _restore_media(parameter, raw_parameters.get((parameter.get("in"), parameter.get("name"))))
    _restore_content(operation.get("requestBody", {}).get("content"), raw.get("requestBody", {}).get("content"))
    for status, raw_response in raw.get("responses", {}).items():
        response = operation.get("responses", {}).get(status)
        if isinstance(response, dict) and isinstance(raw_response, dict):
            _restore_content(response.get("content"), raw_response.get("content"))
            for name, raw_header in (raw_response.get("headers") or {}).items():
                _restore_media((response.get("headers") or {}).get(name), raw_header)
