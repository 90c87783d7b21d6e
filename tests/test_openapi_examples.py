"""The public OpenAPI carries examples, and every example is right.

Integrators generate clients from `openapi/gateway.json` and read its examples
as documentation; schemathesis's explicit phase sends the request-body examples
to a running system. So, on the merged spec the gateway serves (built
in-process, no database needed):

1. every schema a `/api/v1/...` request body refers to (directly, or as the
   items of an array) has an example, on the schema or on the media type;
2. so has every component a 2xx JSON response refers to (a `Page_X_` wrapper
   counts when its item `X` has one);
3. every `examples` entry anywhere in the component schemas, and every media
   type example, validates against its schema (JSON Schema 2020-12, formats
   checked, `#/components/schemas/...` resolved within the whole spec; with
   jsonschema_rs, the validator schemathesis itself uses);
4. every example a pydantic model declares (`json_schema_extra`) validates
   against the model itself, which sees what the schema cannot (validators
   such as "exactly one of", date order, consent not yet expired);
5. the examples reach the spec exactly as declared, `null`s included.
   FastAPI's `get_openapi` encodes the whole document with `exclude_none`,
   which would drop every null from the examples (a required nullable field
   would go missing); `sanlun.kernel.openapi_examples.restore_example_nulls` puts them
   back. A small app checks the cases that need care (a class name two
   models share, `-Input`/`-Output` pairs, field, parameter, body and
   response examples), and every declared model example must appear intact
   in the spec of the process that serves it.
"""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

import jsonschema_rs
import pytest
from fastapi import Body, FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python

from gateway.openapi_merge import merged_openapi
from sanlun.kernel.app import openapi_with_problems

PUBLIC = "/api/v1/"
SCHEMA_REF = "#/components/schemas/"
SPEC_URI = "urn:sanlun:openapi"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch"})

# Components that may appear without an example (checks 1 and 2), each with
# why. Keep this short: an entry that gets an example must leave the list
# (test_the_allow_list_is_not_stale says so).
WITHOUT_EXAMPLES: dict[str, str] = {}

# Packages whose pydantic models may declare examples (check 4).
MODEL_PACKAGES = ("services", "gateway", "sanlun")


# Built once, at collection: the component names parametrize check 3.
SPEC = merged_openapi()


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return SPEC


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        if not path.startswith(PUBLIC):
            continue
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def _ref_name(ref: str) -> str:
    assert ref.startswith(SCHEMA_REF), ref
    return ref[len(SCHEMA_REF) :]


def _referenced(schema: dict[str, Any]) -> Iterator[str]:
    """Component names a body or response schema stands for: its `$ref`, or the items of an array."""
    if "$ref" in schema:
        yield _ref_name(schema["$ref"])
    elif schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        yield _ref_name(schema["items"]["$ref"])
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _referenced(sub)


def _has_examples(schema: dict[str, Any]) -> bool:
    return bool(schema.get("examples")) or "example" in schema


def _page_item(schema: dict[str, Any]) -> str | None:
    """`X` for a `Page[X]` wrapper (`items` of X and `next_cursor`), else None."""
    properties = schema.get("properties", {})
    items = properties.get("items", {})
    if (
        set(properties) == {"items", "next_cursor"}
        and items.get("type") == "array"
        and "$ref" in items.get("items", {})
    ):
        return _ref_name(items["items"]["$ref"])
    return None


def _missing(spec: dict[str, Any], media: dict[str, Any], *, inline: bool) -> list[str]:
    """Components behind one media type that lack an example (none when the media type has its own);
    with `inline`, an inline schema (no component) needs one too."""
    if "example" in media or media.get("examples"):
        return []
    schemas = spec["components"]["schemas"]
    schema = media.get("schema", {})
    names = list(_referenced(schema))
    if not names:
        return [] if not inline or _has_examples(schema) else ["<inline schema>"]
    missing = []
    for name in names:
        component = schemas[name]
        if _has_examples(component):
            continue
        item = _page_item(component)
        if item is not None and _has_examples(schemas[item]):
            continue
        holder = item or name
        if holder not in WITHOUT_EXAMPLES:
            missing.append(holder)
    return missing


def test_every_request_body_has_an_example(spec):
    lacking = []
    for label, operation in _operations(spec):
        for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
            lacking += [f"{label} ({media_type}): {name}" for name in _missing(spec, media, inline=True)]
    assert not lacking, "request bodies without an example:\n" + "\n".join(sorted(set(lacking)))


def test_every_json_response_has_an_example(spec):
    lacking = []
    for label, operation in _operations(spec):
        for status, response in operation.get("responses", {}).items():
            if not status.startswith("2"):
                continue
            for media_type, media in response.get("content", {}).items():
                # Only components: an inline answer such as `{"lifted": 3}` (a bare dict) is left alone.
                if "json" in media_type:
                    lacking += [
                        f"{label} {status} ({media_type}): {name}" for name in _missing(spec, media, inline=False)
                    ]
    assert not lacking, "responses without an example:\n" + "\n".join(sorted(set(lacking)))


def test_the_allow_list_is_not_stale(spec):
    schemas = spec["components"]["schemas"]
    unknown = [name for name in WITHOUT_EXAMPLES if name not in schemas]
    assert not unknown, f"no longer in the spec, drop from WITHOUT_EXAMPLES: {unknown}"
    done = [name for name in WITHOUT_EXAMPLES if _has_examples(schemas[name])]
    assert not done, f"these have examples now, drop them from WITHOUT_EXAMPLES: {done}"


# -- check 3: examples validate against their schema ---------------------------

# Keywords whose value is a schema, a list of schemas, or a map of name -> schema.
_SCHEMA_KEYWORDS = (
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
)
_LIST_KEYWORDS = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _schema_examples(schema: Any, pointer: str) -> Iterator[tuple[str, int, Any]]:
    """(JSON pointer of a (sub)schema, index, example) for every `examples` entry in it."""
    if not isinstance(schema, dict):
        return
    for i, example in enumerate(schema.get("examples") or []):
        yield pointer, i, example
    if "example" in schema:
        yield pointer, -1, schema["example"]
    for key in _SCHEMA_KEYWORDS:
        if isinstance(schema.get(key), dict):
            yield from _schema_examples(schema[key], f"{pointer}/{key}")
    for key in _LIST_KEYWORDS:
        for i, sub in enumerate(schema.get(key) or []):
            yield from _schema_examples(sub, f"{pointer}/{key}/{i}")
    for key in _MAP_KEYWORDS:
        for name, sub in (schema.get(key) or {}).items():
            yield from _schema_examples(sub, f"{pointer}/{key}/{_pointer_token(name)}")


def _media_examples(spec: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(JSON pointer of a media type's schema, label, example) for every media type example."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            base = f"#/paths/{_pointer_token(path)}/{method}"
            contents = [(f"{base}/requestBody/content", operation.get("requestBody", {}).get("content", {}))]
            contents += [
                (f"{base}/responses/{status}/content", r.get("content", {}))
                for status, r in operation.get("responses", {}).items()
            ]
            for pointer, content in contents:
                for media_type, media in content.items():
                    at = f"{pointer}/{_pointer_token(media_type)}/schema"
                    if "example" in media:
                        yield at, f"{method.upper()} {path} {media_type} example", media["example"]
                    for name, example in (media.get("examples") or {}).items():
                        if "value" in example:
                            yield at, f"{method.upper()} {path} {media_type} examples.{name}", example["value"]


@functools.cache
def _registry() -> jsonschema_rs.Registry:
    # The whole spec as one resource, so `#/components/schemas/...` resolves from anywhere in it.
    return jsonschema_rs.Registry([(SPEC_URI, SPEC)], draft=jsonschema_rs.Draft202012)


def _validator(pointer: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=_registry(), validate_formats=True)


def _errors(validator: jsonschema_rs.Validator, example: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.instance_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(example)]


@pytest.mark.parametrize("name", sorted(SPEC["components"]["schemas"]))
def test_component_examples_validate(spec, name):
    failures = []
    pointer = f"#/components/schemas/{_pointer_token(name)}"
    for at, i, example in _schema_examples(spec["components"]["schemas"][name], pointer):
        if errors := _errors(_validator(at), example):
            failures.append(f"{at} example {i}: " + "; ".join(errors))
    assert not failures, "\n".join(failures)


def test_media_type_examples_validate(spec):
    failures = []
    for pointer, label, example in _media_examples(spec):
        if errors := _errors(_validator(pointer), example):
            failures.append(f"{label}: " + "; ".join(errors))
    assert not failures, "\n".join(failures)


# -- check 4: examples validate against their pydantic model -------------------


def _modules(package: str) -> Iterator[str]:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        last = info.name.rsplit(".", 1)[-1]
        if not info.ispkg and (last in ("schemas", "types", "document") or last.endswith("router")):
            yield info.name


def _models_with_examples() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for package in MODEL_PACKAGES:
        for module_name in _modules(package):
            module = importlib.import_module(module_name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseModel)
                    and value.__module__ == module_name
                    and isinstance(value.model_config.get("json_schema_extra"), dict)
                    and value.model_config["json_schema_extra"].get("examples")
                ):
                    found[f"{module_name}.{value.__qualname__}"] = value
    return [found[k] for k in sorted(found)]


MODELS = _models_with_examples()


def test_models_with_examples_are_found():
    # Guards the discovery below: a refactor that hides the models would pass vacuously.
    assert len(MODELS) >= 20, [m.__qualname__ for m in MODELS]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: f"{m.__module__}.{m.__qualname__}")
def test_model_examples_validate_against_the_model(model):
    for example in model.model_config["json_schema_extra"]["examples"]:  # type: ignore[index]
        # As the API receives it: JSON, by field name (a read model's validation alias aside).
        model.model_validate_json(json.dumps(example), by_name=True)


# -- check 5: examples reach the spec as declared, nulls included ----------------


def _same_name_model(module: str, example: dict[str, Any]) -> type[BaseModel]:
    """A model called `Thing` in `module`: two of them make FastAPI qualify both component names."""
    return type(
        "Thing",
        (BaseModel,),
        {
            "__module__": module,
            "__annotations__": {"a": int | None},
            "model_config": ConfigDict(json_schema_extra={"examples": [example]}),
        },
    )


# (Module level: this file's annotations are strings, resolved among its globals.)
_FirstThing = _same_name_model("pkg.one", {"a": None})
_SecondThing = _same_name_model("pkg.two", {"a": 1})


class _InAndOut(BaseModel):
    """Decimal reads differently from how it is written: `_InAndOut-Input` and `-Output`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": "1.50", "note": None, "meta": {}}]})

    amount: Decimal
    note: str | None
    meta: dict[str, str | None] = Field(default_factory=dict, examples=[{"source": None}])


def _small_app() -> FastAPI:
    app = FastAPI()

    @app.post("/first", response_model=_FirstThing)
    def post_first(body: _FirstThing) -> Any: ...  # type: ignore[valid-type]

    @app.post(
        "/second",
        response_model=_SecondThing,
        responses={404: {"content": {"application/json": {"example": {"gone": None}}}}},
    )
    def post_second(
        body: Annotated[
            _SecondThing, Body(openapi_examples={"unknown": {"summary": "Not known yet", "value": {"a": None}}})
        ],  # type: ignore[valid-type]
        q: Annotated[str | None, Query(openapi_examples={"absent": {"value": None}})] = None,
    ) -> Any: ...

    @app.put("/both", response_model=_InAndOut)
    def put_both(body: _InAndOut) -> Any: ...

    return app


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return spec["components"]["schemas"][_ref_name(schema["$ref"])]


def test_the_spec_keeps_nulls_in_examples():
    spec = openapi_with_problems(_small_app())
    first, second = spec["paths"]["/first"]["post"], spec["paths"]["/second"]["post"]
    first_body = first["requestBody"]["content"]["application/json"]
    second_body = second["requestBody"]["content"]["application/json"]
    # One class name, two models: each component keeps its own example.
    assert _ref_name(first_body["schema"]["$ref"]) != _ref_name(second_body["schema"]["$ref"])
    assert _resolve(spec, first_body["schema"])["examples"] == [{"a": None}]
    assert _resolve(spec, second_body["schema"])["examples"] == [{"a": 1}]
    # Media type, parameter and response examples.
    assert second_body["examples"] == {"unknown": {"summary": "Not known yet", "value": {"a": None}}}
    assert second["parameters"][0]["examples"] == {"absent": {"value": None}}
    assert second["responses"]["404"]["content"]["application/json"]["example"] == {"gone": None}
    # Both sides of an `-Input`/`-Output` pair, and a field's own examples.
    both = spec["paths"]["/both"]["put"]
    for schema in (
        both["requestBody"]["content"]["application/json"]["schema"],
        both["responses"]["200"]["content"]["application/json"]["schema"],
    ):
        component = _resolve(spec, schema)
        assert component["examples"] == [{"amount": "1.50", "note": None, "meta": {}}]
        assert component["properties"]["meta"]["examples"] == [{"source": None}]
    assert {
        _ref_name(both["requestBody"]["content"]["application/json"]["schema"]["$ref"]),
        _ref_name(both["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]),
    } == {"_InAndOut-Input", "_InAndOut-Output"}
    # Only examples: FastAPI's encoding of the rest is unchanged (no `"default": null`).
    assert (
        "default"
        not in _resolve(spec, both["requestBody"]["content"]["application/json"]["schema"])["properties"]["note"]
    )


@functools.cache
def _process_specs() -> dict[str, dict[str, Any]]:
    """Each process's own spec (all its paths, before the merge), built in-process."""
    from gateway.app import create_app
    from gateway.settings import Settings
    from sanlun.topology import SERVICES

    specs = {"gateway": openapi_with_problems(create_app(Settings(environment="development")))}
    for service in SERVICES:
        settings_cls = importlib.import_module(f"{service.package}.settings").Settings
        specs[service.name] = service.create_app(settings_cls(environment="development")).openapi()
    return specs


def _contains_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _contains_null(v) for v in value.values())
    if isinstance(value, list):
        return any(v is None or _contains_null(v) for v in value)
    return False


def test_declared_examples_reach_the_spec_intact():
    by_title: dict[str, list[tuple[str, str, Any]]] = {}
    for process, spec in _process_specs().items():
        for name, component in spec.get("components", {}).get("schemas", {}).items():
            by_title.setdefault(component.get("title"), []).append((process, name, component.get("examples")))
    served, with_nulls, lost = 0, 0, []
    for model in MODELS:
        declared = to_jsonable_python(model.model_config["json_schema_extra"]["examples"])  # type: ignore[index]
        candidates = by_title.get(model.model_config.get("title") or model.__name__, [])
        if not candidates:
            continue  # not served by any route
        served += 1
        with_nulls += _contains_null(declared)
        if not any(examples == declared for _, _, examples in candidates):
            lost.append(
                f"{model.__module__}.{model.__qualname__}: "
                + ", ".join(f"{process} {name}" for process, name, _ in candidates)
            )
    # Guards: the check really looked at served models, some of them with nulls in their examples.
    assert served >= 20 and with_nulls >= 5, (served, with_nulls)
    assert not lost, "examples that differ in the spec from what the model declares:\n" + "\n".join(lost)
