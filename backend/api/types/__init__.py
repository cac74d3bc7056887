"""GraphQL types, one module per type family, built from the services' masked views."""
