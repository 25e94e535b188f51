"""Provider connections: the catalog, the records and their credentials, API-key checks, routes."""
