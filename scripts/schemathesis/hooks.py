"""Schemathesis hooks for canaryd: pipeline specs and configs go out as TOML too.

canaryd takes its config and pipeline bodies as JSON, TOML or YAML (the same document in
each). Schemathesis serializes JSON and YAML itself; this teaches it TOML. A generated value
with no TOML form (not a table, or holding a null, as negative cases do) goes out as its
JSON text, which is not TOML either: canaryd must answer it with a 4xx, never a 5xx.
"""

import json

import schemathesis
import tomli_w


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
