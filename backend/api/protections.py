"""Query protections as one schema extension: token cap, parse cache, depth, alias and
(in production) introspection rules, validation cache.

Strawberry's stock extensions do each of these one by one (``MaxTokensLimiter``,
``ParserCache``, ``QueryDepthLimiter``, ``MaxAliasesLimiter``, ``DisableIntrospection``,
``ValidationCache``). Every extension is instantiated per request and every hook of
every extension is looked up and entered per request: with six of them that machinery
cost more than executing a small query (profiled in ``docs/performance.md``). This
extension does the same checks with the same graphql-core rules in two hooks.

The caches are LRUs shared by every request: a parsed document and its validation
errors depend only on the query text, the token cap, the schema and the rule classes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

from graphql.validation import NoSchemaIntrospectionCustomRule, specified_rules
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.schema.schema import validate_document

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse

CACHE_SIZE = 512


@lru_cache(maxsize=CACHE_SIZE)
def cached_parse(query: str, max_tokens: int) -> DocumentNode:
    """Parse once per query text; a syntax error or a document over the token cap raises
    (a raise is not cached, so a bad query costs a parse every time, as it should)."""
    return parse(query, max_tokens=max_tokens)


@lru_cache(maxsize=CACHE_SIZE)
def cached_validate(
    schema: GraphQLSchema,
    query: str,
    max_tokens: int,
    rules: tuple[type[ASTValidationRule], ...],
) -> list[GraphQLError]:
    """Validation errors of the parsed ``query``. Keyed by the query text, not by the
    document: graphql-core's AST nodes are frozen dataclasses whose hash walks the whole
    tree, which for the 360 query costs more than the cache saves."""
    return validate_document(schema, cached_parse(query, max_tokens), rules)


def validation_rules(
    *, max_depth: int, max_aliases: int, introspection: bool
) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core's specified rules plus the limits, built once per schema.

    The depth and alias limiters make a new rule class each time they are built; built
    per request, the validation cache (keyed by the classes) would never hit.
    """
    limits: Sequence[type[ASTValidationRule]] = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    extra = [] if introspection else [NoSchemaIntrospectionCustomRule]
    return (*specified_rules, *limits, *extra)


class QueryProtections(SchemaExtension):
    """Parse with a token cap and validate with the schema's rules, both cached."""

    def __init__(self, *, max_tokens: int, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.max_tokens = max_tokens
        self.rules = rules

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            context.graphql_document = cached_parse(context.query, self.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.query is not None  # Strawberry refuses a request without one
        context.validation_rules = self.rules
        context.pre_execution_errors = cached_validate(
            context.schema._schema, context.query, self.max_tokens, self.rules
        )
        yield
