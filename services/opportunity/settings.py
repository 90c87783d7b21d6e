from pydantic_settings import SettingsConfigDict

from sanlun.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANLUN_OPPORTUNITY_", extra="ignore")

    port: int = 8001
    # Coverage continuity asks the key account service once per account; past
    # this many accounts in a batch the rest score no continuity (and say so).
    coverage_max_accounts: int = 200
    coverage_concurrency: int = 10
