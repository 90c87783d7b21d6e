"""The gateway (port 8000): the one public entry point of Sanlun.

It authenticates at the edge, proxies `/api/v1/...` by prefix to the owning
service (the route table is `sanlun.topology`), aggregates the services'
health and serves the merged OpenAPI of the whole system.
"""
