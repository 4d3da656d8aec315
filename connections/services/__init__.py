"""Writes of the connections app, by domain: ``connections`` (create, rename, status, delete,
grants), ``connect`` (connect sessions and the hosted API-key flow), ``oauth`` (the hosted
OAuth 2 flow), ``health`` (health checks) and ``tokens`` (OAuth token refresh)."""
