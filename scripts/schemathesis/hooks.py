"""Schemathesis hooks for canaryd: pipeline specs and configs go out as TOML too.

canaryd takes its config and pipeline bodies as JSON, TOML or YAML (the same document in
each). Schemathesis serializes JSON and YAML itself; this teaches it TOML. A generated value
with no TOML form (not a table, or holding a null, as negative cases do) goes out as its
JSON text, which is not TOML either: canaryd must answer it with a 4xx, never a 5xx.
"""

import json

import hypothesis.internal.lambda_sources as _lambda_sources
import schemathesis
import tomli_w

# CPython 3.11 can raise "SystemError: AST constructor recursion depth mismatch" when
# Hypothesis, deep in a call stack, parses a large source file only to print a filter's
# lambda (a cosmetic description). That error would end the operation's test early; the
# description is not needed, so an unknown one stands in for it.
_describe = _lambda_sources._lambda_description


def _lambda_description(f, *args, **kwargs):
    try:
        return _describe(f, *args, **kwargs)
    except SystemError:
        return "lambda: <unknown>"


_lambda_sources._lambda_description = _lambda_description


@schemathesis.serializer("application/toml")
def toml_serializer(ctx, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, dict):
        try:
            return tomli_w.dumps(value).encode()
        except (TypeError, ValueError):
            pass
    return json.dumps(value).encode()
