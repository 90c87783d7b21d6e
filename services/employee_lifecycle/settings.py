from pydantic_settings import SettingsConfigDict

from sanlun.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANLUN_EMPLOYEE_LIFECYCLE_", extra="ignore")

    port: int = 8002
    # How often the process checks whether today's scheduled round (every
    # active employee evaluated, expired overrides lifted; the only evaluation
    # that confirms a stage change) is due; it runs at most once per business
    # day, so a restart does not skip a day. 0 turns it off (then
    # `POST /ops/stages/round` runs it). Replicas take turns through an advisory lock.
    stage_schedule_seconds: float = 3_600.0
