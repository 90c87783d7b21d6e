from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sanlun.kernel.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANLUN_RESOURCE_SHARE_", extra="ignore")

    port: int = 8004

    # Resource requests: the owner should decide within the SLA; undecided ones expire.
    request_sla_hours: int = 48
    request_expiry_days: int = 14
    introduction_expiry_days: int = 14
    # Introduction paths (see domain/paths.py).
    path_max_hops: int = 3
    path_colleague_factor: float = 0.5
    # MCI desk priority (see domain/desk.py): stage weights, ageing per hour waited, tilt on/off.
    support_stage_weights: dict[str, float] = Field(
        default_factory=lambda: {"L1_SUBSISTENCE": 2.0, "L2_COMFORTABLE": 1.0, "L3_AFFLUENT": 1.0}
    )
    support_ageing_per_hour: float = 0.25
    support_tilt: bool = True
    # Open requests the queue ranks at once; the desk's backlog stays far below it.
    support_queue_window: int = 5000
