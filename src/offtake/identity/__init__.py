"""Who is calling: principals, roles and scopes, OAuth2 clients and their signed tokens (no web framework)."""
