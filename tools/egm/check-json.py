#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Validate what 'egm ... --json' printed against egm-json.schema.json.

    check-json.py [--schema FILE] [--type list|info|windows] FILE...

FILE is a document that 'egm list --json', 'egm info --json' or 'egm
windows --json' printed ('-' for standard input). With --type, it must be
that document; without, any of the three. Prints one line per problem,
"FILE: PATH: what is wrong", and exits 1 if there is any, 0 if none.

The checker is a subset of JSON Schema draft 07, no third-party module
needed: $ref (to this file's definitions), type, enum, const, minimum,
maximum, minLength, pattern, items, minItems, maxItems, uniqueItems,
properties, required, additionalProperties, allOf, anyOf and oneOf. A
schema that uses any other keyword is refused, rather than half checked.
The documents are read strictly: UTF-8, one JSON value, no duplicate
keys, no NaN or Infinity.
"""
import argparse
import json
import os
import re
import sys

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "egm-json.schema.json")

# Keywords that only annotate, and the ones this checker implements.
ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "definitions",
               "default", "examples"}
KEYWORDS = {"$ref", "type", "enum", "const", "minimum", "maximum", "minLength", "pattern",
            "items", "minItems", "maxItems", "uniqueItems", "properties", "required",
            "additionalProperties", "allOf", "anyOf", "oneOf"}

TYPES = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


class SchemaError(Exception):
    """The schema itself is wrong, or uses what the checker does not know."""


def load_schema(path=SCHEMA):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def json_type(v):
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if TYPES[name](v):
            return name
    return type(v).__name__


def resolve(root, ref):
    if not ref.startswith("#/"):
        raise SchemaError("only local references (#/...) are supported: %s" % ref)
    node = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaError("unresolved reference %s" % ref)
        node = node[part]
    return node


def same(a, b):
    """JSON equality: 1 and true differ, 1 and 1.0 do not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def validate(doc, schema, root=None, path="$"):
    """The problems of doc against schema, as a list of "PATH: message"."""
    root = schema if root is None else root
    if schema is True:
        return []
    if schema is False:
        return ["%s: not allowed here" % path]
    if not isinstance(schema, dict):
        raise SchemaError("%s: a schema must be an object or a boolean" % path)
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        raise SchemaError("unsupported keyword(s) %s" % ", ".join(sorted(unknown)))

    errs = []
    if "$ref" in schema:
        # Draft 07: a $ref replaces its siblings.
        return validate(doc, resolve(root, schema["$ref"]), root, path)

    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        for t in types:
            if t not in TYPES:
                raise SchemaError("unknown type %r" % t)
        if not any(TYPES[t](doc) for t in types):
            return ["%s: expected %s, got %s %s" % (path, " or ".join(types), json_type(doc),
                                                   json.dumps(doc)[:60])]
    if "enum" in schema and not any(same(doc, e) for e in schema["enum"]):
        errs.append("%s: %s is not one of %s" % (path, json.dumps(doc), json.dumps(schema["enum"])))
    if "const" in schema and not same(doc, schema["const"]):
        errs.append("%s: %s is not %s" % (path, json.dumps(doc), json.dumps(schema["const"])))

    if TYPES["number"](doc):
        if "minimum" in schema and doc < schema["minimum"]:
            errs.append("%s: %s is below the minimum %s" % (path, doc, schema["minimum"]))
        if "maximum" in schema and doc > schema["maximum"]:
            errs.append("%s: %s is above the maximum %s" % (path, doc, schema["maximum"]))

    if isinstance(doc, str):
        if "minLength" in schema and len(doc) < schema["minLength"]:
            errs.append("%s: shorter than %d characters" % (path, schema["minLength"]))
        if "pattern" in schema and not re.search(schema["pattern"], doc):
            errs.append("%s: %s does not match %s" % (path, json.dumps(doc), schema["pattern"]))

    if isinstance(doc, list):
        if "minItems" in schema and len(doc) < schema["minItems"]:
            errs.append("%s: fewer than %d items" % (path, schema["minItems"]))
        if "maxItems" in schema and len(doc) > schema["maxItems"]:
            errs.append("%s: more than %d items" % (path, schema["maxItems"]))
        if schema.get("uniqueItems"):
            seen = set()
            for i, v in enumerate(doc):
                key = json.dumps(v, sort_keys=True)
                if key in seen:
                    errs.append("%s[%d]: %s is a duplicate" % (path, i, key))
                seen.add(key)
        if "items" in schema:
            if isinstance(schema["items"], list):
                raise SchemaError("tuple 'items' is not supported")
            for i, v in enumerate(doc):
                errs += validate(v, schema["items"], root, "%s[%d]" % (path, i))

    if isinstance(doc, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in doc:
                errs.append("%s: missing required field %r" % (path, key))
        for key, v in doc.items():
            sub = "%s.%s" % (path, key)
            if key in props:
                errs += validate(v, props[key], root, sub)
            elif "additionalProperties" in schema:
                extra = schema["additionalProperties"]
                if extra is False:
                    errs.append("%s: unexpected field (not in the schema)" % sub)
                else:
                    errs += validate(v, extra, root, sub)

    for sub in schema.get("allOf", []):
        errs += validate(doc, sub, root, path)
    if "anyOf" in schema:
        results = [validate(doc, sub, root, path) for sub in schema["anyOf"]]
        if all(results):
            errs.append("%s: matches none of anyOf: %s" % (path, min(results, key=len)[0]))
    if "oneOf" in schema:
        results = [validate(doc, sub, root, path) for sub in schema["oneOf"]]
        ok = [r for r in results if not r]
        if len(ok) != 1:
            if not ok:
                errs.append("%s: matches none of oneOf; the closest: %s"
                            % (path, "; ".join(min(results, key=len)[:5])))
            else:
                errs.append("%s: matches %d of oneOf, not exactly one" % (path, len(ok)))
    return errs


def no_constant(name):
    raise ValueError("%s is not JSON" % name)


def no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %r" % k)
        d[k] = v
    return d


def parse(data):
    """Strictly parse bytes: (document, None) or (None, the problem)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, "not UTF-8: %s" % e
    if not text.strip():
        return None, "empty: no JSON document"
    try:
        return json.loads(text, parse_constant=no_constant,
                          object_pairs_hook=no_duplicates), None
    except ValueError as e:
        return None, "not one JSON document: %s" % e


def check(data, doc_type=None, schema=None):
    """The problems of the bytes data as an egm document (of doc_type)."""
    schema = load_schema() if schema is None else schema
    doc, problem = parse(data)
    if problem:
        return [problem]
    if doc_type:
        defs = schema.get("definitions", {})
        if doc_type not in defs:
            raise SchemaError("no definition %r in the schema" % doc_type)
        return validate(doc, defs[doc_type], schema)
    return validate(doc, schema, schema)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--schema", default=SCHEMA, help="the schema (default: %(default)s)")
    ap.add_argument("--type", help="the definition the documents must match: list, info, windows")
    ap.add_argument("files", nargs="+", metavar="FILE")
    args = ap.parse_args()
    schema = load_schema(args.schema)
    bad = 0
    for name in args.files:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as f:
                data = f.read()
        try:
            errs = check(data, args.type, schema)
        except SchemaError as e:
            print("%s: bad schema: %s" % (args.schema, e))
            return 2
        for e in errs:
            print("%s: %s" % (name, e))
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
