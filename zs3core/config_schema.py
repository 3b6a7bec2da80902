"""The configuration against its JSON schema: command-line types repaired, every error named.

Snakemake merges `--configfile` files (typed YAML) and `--config` values over config.yaml. The
command line types nested values as strings (`--config 'datasets={voc: {unseen: {2: [..]}}}'`
gives the key '2' and `ks: ['2']`), so a merged mapping can hold both 2 (config.yaml) and '2'
(the user's) and a number can arrive as '0.5'. `normalise_types` makes every mapping key a
string (the schema's, JSON's convention), lets the command line's key win where both forms
exist, stops where it cannot tell which is the user's, and turns strings into the number,
boolean or null the schema expects there (20.0 and '20.0' into 20 where it expects an integer).
`schema_problems` then lists every violation with its key path, e.g.
"datasets.synthvoc.generator.iterationz: unknown key; allowed: [...]".
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

from zs3core.config import ConfigError

_INT = re.compile(r"[-+]?[0-9]+$")
_FLOAT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_NULLS = {"null", "Null", "NULL", "~"}
_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def load_schema(path: str | Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


# ---------------------------------------------------------------- types from the command line


def normalise_types(config: dict, schema: dict, command_line: Mapping | None = None) -> None:
    """Repair in place what the command line typed differently from YAML (see module doc).

    `command_line`: the `--config` values as snakemake parsed them (`workflow.config_settings.config`);
    a key given there in string form wins over its integer twin from a config file."""
    _normalise(config, schema, schema, command_line or {}, [])


def _normalise(value, schema: dict, root: dict, cli, path: list[str]):
    if isinstance(value, dict):
        keys = _string_keys(value, cli, path)
        for key, original in keys.items():
            value[key] = _normalise(value.pop(original), _child(schema, root, key), root,
                                    cli.get(key) if isinstance(cli, Mapping) else None, path + [key])
        return value
    if isinstance(value, list):
        item = _item_schema(schema, root)
        return [_normalise(v, item, root, None, path + [str(i)]) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _coerce(value, schema, root)
    if isinstance(value, float) and value.is_integer() and _integer_only(schema, root):
        return int(value)  # 20.0 where the schema wants an integer: the same setting as 20
    return value


def _integer_only(schema: dict, root: dict) -> bool:
    types, _ = _allowed(schema, root)
    return "integer" in types and "number" not in types


def _string_keys(mapping: dict, cli, path: list[str]) -> dict:
    """str(key) -> the key whose value it keeps; a clash of 2 and '2' is settled by `cli`."""
    chosen: dict = {}
    for key in list(mapping):
        name = str(key)
        if name not in chosen:
            chosen[name] = key
            continue
        other = chosen[name]
        where = ".".join(path + [name])
        if isinstance(cli, Mapping) and name in cli:
            keep = other if isinstance(other, str) else key  # the command line's keys are strings
        else:
            raise ConfigError(f"{where} is given twice, as {other!r} and {key!r} (a string and a number "
                              f"from different config files): write it once, e.g. as {name}")
        drop = key if keep is other else other
        del mapping[drop]
        chosen[name] = keep
    return chosen


def _coerce(text: str, schema: dict, root: dict):
    """`text` as the type the schema expects, where it expects no string there."""
    types, enum = _allowed(schema, root)
    if "null" in types and text in _NULLS:
        return None
    if "string" in types or (not types and not enum):
        return text
    for member in enum:
        if not isinstance(member, str) and str(member) == text:
            return member
    if "boolean" in types and text in _BOOLS:
        return _BOOLS[text]
    if types & {"integer", "number"} and _INT.match(text):
        return int(text)
    if _integer_only(schema, root) and _FLOAT.match(text) and float(text).is_integer():
        return int(float(text))
    if "number" in types:
        try:
            return float(text)
        except ValueError:
            pass
    return text  # the schema reports it, with its path


def _parts(schema, root: dict) -> list[dict]:
    """`schema` and every subschema that applies alongside it ($ref, allOf, if/then/else...)."""
    if not isinstance(schema, dict):
        return []
    out = [schema]
    if "$ref" in schema:
        out += _parts(_resolve(schema["$ref"], root), root)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            out += _parts(sub, root)
    for key in ("then", "else"):
        out += _parts(schema.get(key), root)
    return out


def _resolve(ref: str, root: dict) -> dict:
    node = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _child(schema: dict, root: dict, key: str) -> dict:
    parts = _parts(schema, root)
    for part in parts:
        if isinstance(part.get("properties"), dict) and isinstance(part["properties"].get(key), dict):
            return part["properties"][key]
    for part in parts:
        if isinstance(part.get("additionalProperties"), dict):
            return part["additionalProperties"]
    return {}


def _item_schema(schema: dict, root: dict) -> dict:
    return next((p["items"] for p in _parts(schema, root) if isinstance(p.get("items"), dict)), {})


def _allowed(schema: dict, root: dict) -> tuple[set, list]:
    types, enum = set(), []
    for part in _parts(schema, root):
        t = part.get("type", [])
        types |= {t} if isinstance(t, str) else set(t)
        enum += part.get("enum", []) + ([part["const"]] if "const" in part else [])
    return types, enum


# ---------------------------------------------------------------- validation


def schema_problems(config: dict, schema: dict) -> list[str]:
    """Every schema violation, one line each, naming the key path and what is allowed."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    problems: list[str] = []
    for error in errors:
        problems += _messages(error, schema)
    return list(dict.fromkeys(problems))


def _messages(error, root: dict) -> list[str]:
    path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    kind, bound = error.validator, error.validator_value
    if kind in ("additionalProperties", "unevaluatedProperties"):
        known = sorted(_properties_deep(error.schema, root))
        extra = [k for k in error.instance if k not in known]
        return [f"{_join(path, k)}: unknown key; allowed: {known}" for k in extra]
    if "propertyNames" in error.schema_path:  # a key outside the names a mapping allows
        allowed = bound if kind == "enum" else f"names matching {bound}"
        return [f"{_join(path, error.instance)}: unknown name; allowed: {allowed}"]
    if kind in ("enum", "const"):
        allowed = bound if kind == "enum" else [bound]
        return [f"{path} is {error.instance!r}, expected one of {allowed}"]
    if kind in _BOUNDS:
        return [f"{path} is {error.instance!r}, expected {_BOUNDS[kind]} {bound}{_range_of(error.schema)}"]
    if kind == "type":
        return [f"{path} is {error.instance!r} ({type(error.instance).__name__}), expected {bound}"]
    if kind == "required":
        missing = [k for k in bound if k not in error.instance]
        return [f"{_join(path, k)}: missing (required)" for k in missing]
    if kind == "not" and "description" in error.schema:
        return [f"{path}: {error.schema['description']}"]
    if kind in ("anyOf", "oneOf"):  # e.g. `cv` or a number: name the alternative it came closest to
        closer = [e for e in error.context if e.validator not in ("type", "const", "enum")]
        if closer:
            return [m for e in closer for m in _messages(e, root)]
        return [f"{path} is {error.instance!r}, expected {' or '.join(map(_alternative, bound))}"]
    return [f"{path}: {error.message}"]


def _alternative(schema: dict) -> str:
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return f"one of {schema['enum']}"
    return f"a {schema.get('type', 'value')}"


def _properties_deep(schema: dict, root: dict) -> set:
    return {k for part in _parts(schema, root) for k in part.get("properties", {})}


def _range_of(schema: dict) -> str:
    """The whole range, where it has two ends (the message names the end crossed)."""
    bounds = [f"{op} {schema[k]}" for k, op in _BOUNDS.items() if k in schema]
    return f" (range: {', '.join(bounds)})" if len(bounds) > 1 else ""


def _join(path: str, key) -> str:
    return str(key) if path == "(top level)" else f"{path}.{key}"


def validate_config(config: dict, schema_path: str | Path, command_line: Mapping | None = None) -> None:
    """Normalise types, then raise ConfigError listing every schema violation, if any."""
    schema = load_schema(schema_path)
    normalise_types(config, schema, command_line)
    problems = schema_problems(config, schema)
    if problems:
        raise ConfigError(f"invalid configuration ({schema_path}):\n  - " + "\n  - ".join(problems))
