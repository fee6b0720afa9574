"""The shipped strongSwan recordings and the command that makes them (`python -m natt_core.live.record`)."""
from __future__ import annotations

import pytest

from natt_core.analysis import diagnose
from natt_core.live.record import ASSETS, LOG_LINE, RECORDINGS, main


@pytest.mark.parametrize("stem", list(RECORDINGS))
def test_every_recording_ships_both_sides_and_charons_log(stem):
    for side in ("client-side", "server-side"):
        assert diagnose((ASSETS / f"{stem}.{side}.pcap").read_bytes()).exchanges
    log = (ASSETS / f"{stem}.charon.log").read_text().splitlines()
    assert log and all(LOG_LINE.search(line) for line in log)


def test_an_unknown_recording_is_refused_before_anything_starts(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["strongswan-nope"])
    assert exit_.value.code == 2 and "strongswan-ikev2-responder" in capsys.readouterr().err
