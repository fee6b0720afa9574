"""The Windows side of NAT-T, as an admin types it (Microsoft KB 926179, KB 947234)."""


def reg_add(value: int = 2) -> str:
    """The registry command that sets AssumeUDPEncapsulationContextOnSendRule: 1 allows a server
    behind NAT, 2 a server and a client both behind NATs; the Policy Agent reads it at start."""
    return ("REG ADD HKLM\\SYSTEM\\CurrentControlSet\\Services\\PolicyAgent /v "
            f"AssumeUDPEncapsulationContextOnSendRule /t REG_DWORD /d {value} /f")
