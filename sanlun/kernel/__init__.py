"""The shared kernel: mechanisms every Sanlun process uses the same way.

It holds settings, the database session discipline, problem+json errors,
pagination, idempotency, identity and visibility, request context, logging,
health and metrics. It never holds domain rules: those live in the services.
"""
