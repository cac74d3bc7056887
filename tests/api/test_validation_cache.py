"""The parsed-and-validated document cache must hit for a repeated query.

It is keyed by the validation-rule classes; limiters that made new rule classes per
request silently defeated it (found by benchmarks/http_throughput.py).
"""

from __future__ import annotations

from strawberry.extensions.validation_cache import _get_validate_cache

from backend.api.schema import CACHE_SIZE, build_schema


async def test_a_repeated_query_is_validated_once() -> None:
    schema = build_schema(production=False)
    cache = _get_validate_cache(CACHE_SIZE)
    query = "query ValidationCacheProbe { __typename }"
    first = await schema.execute(query)
    assert first.errors is None
    hits = cache.cache_info().hits
    for _ in range(3):
        again = await schema.execute(query)
        assert again.errors is None
    assert cache.cache_info().hits == hits + 3
