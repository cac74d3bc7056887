"""Authentication: staff sign-in, sessions, OAuth2 clients and tokens."""
