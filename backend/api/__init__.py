"""The staff GraphQL API (Strawberry): a thin transport over the domain services."""
