"""Staff mutations, one module per domain; ``backend.api.schema`` composes their root
classes into ``Mutation``. Resolvers parse ids, build the service's input dataclass and
call it inside :meth:`ApiContext.run` (one transaction; domain refusals become codes)."""
