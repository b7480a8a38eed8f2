"""The fault suite: many runs through one spool against a receiver that does not dedupe, with
random outages, stalls, slow drips, SIGKILL and SIGTERM mid-delivery and concurrent pairs --
every alert generated is delivered, none twice. (``bench/bench_faults.py`` runs the same
campaign at full size.)"""

from __future__ import annotations

import pytest
from fault_campaign import KINDS, run_campaign


@pytest.mark.parametrize("seed", [11, 12])
def test_a_faulted_campaign_delivers_every_alert_exactly_once(tmp_path, seed, capsys):
    campaign = run_campaign(tmp_path, runs=18, seed=seed)
    summary = campaign.summary()
    with capsys.disabled():
        print(f"\nfault campaign seed {seed}: {summary}")
    assert set(campaign.kinds) == set(KINDS)  # every fault kind was exercised
    assert campaign.killed >= 2 and campaign.generated
    assert summary["generated"] == summary["delivered"]
    assert campaign.lost == set() and campaign.unexpected == set()
    assert campaign.duplicates == {}
    # Stalled and dripping receivers held no send() past its 2 s deadline (plus slack).
    held = campaign.send_times.get("stall", []) + campaign.send_times.get("drip", [])
    assert held and max(held) < 2.0 + 1.0
