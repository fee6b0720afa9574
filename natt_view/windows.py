"""The Windows side of NAT-T, as an admin types it (Microsoft KB 926179, KB 947234).

The command itself lives in the engine (natt_core.lab.windows_config) so the config generator and
the lessons print the same line."""
from natt_core.lab.windows_config import reg_add

__all__ = ["reg_add"]
