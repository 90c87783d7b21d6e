from pydantic_settings import SettingsConfigDict

from sanlun.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANLUN_KEY_ACCOUNT_", extra="ignore")

    port: int = 8003
