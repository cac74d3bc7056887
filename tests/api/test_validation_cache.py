"""The parse and validation caches must hit for a repeated query.

The validation cache is keyed by the validation-rule classes; limiters that made new
rule classes per request silently defeated it (found by benchmarks/http_throughput.py).
"""

from __future__ import annotations

from backend.api.protections import cached_parse, cached_validate
from backend.api.schema import build_schema


async def test_a_repeated_query_is_parsed_and_validated_once() -> None:
    schema = build_schema(production=False)
    query = "query ValidationCacheProbe { __typename }"
    first = await schema.execute(query)
    assert first.errors is None
    parsed, validated = cached_parse.cache_info().hits, cached_validate.cache_info().hits
    for _ in range(3):
        again = await schema.execute(query)
        assert again.errors is None
    assert cached_validate.cache_info().hits == validated + 3
    assert cached_parse.cache_info().hits >= parsed + 3


async def test_the_limits_still_refuse_with_the_caches_warm() -> None:
    schema = build_schema(production=True, max_depth=2)
    deep = "query Deep { me { username } patients { edges { node { id } } } }"
    for _ in range(2):  # the second answer comes from the cache and must refuse as well
        result = await schema.execute(deep)
        assert result.errors
        assert "exceeds maximum operation depth" in result.errors[0].message
    introspect = "query Peek { __schema { types { name } } }"
    for _ in range(2):
        result = await schema.execute(introspect)
        assert result.errors
        assert "introspection" in result.errors[0].message.lower()
