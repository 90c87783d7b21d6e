"""Every table of the gateway schema, imported so the metadata knows them."""

from gateway.api_keys.models import ApiKey
from gateway.ratelimit.store import buckets_table

__all__ = ["ApiKey", "buckets_table"]
