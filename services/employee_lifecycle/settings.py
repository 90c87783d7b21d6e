from pydantic_settings import SettingsConfigDict

from sanlun.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANLUN_EMPLOYEE_LIFECYCLE_", extra="ignore")

    port: int = 8002
    # Scheduled evaluation of every active employee (and lifting of expired
    # overrides); 0 turns it off. Replicas take turns through an advisory lock.
    stage_schedule_seconds: float = 86_400.0
