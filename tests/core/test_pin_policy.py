"""IT's PIN policy (``pin_policy`` from the centre): a shorter PIN must be changed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from central.settings import SettingError, validate
from fieldclient.errors import PinTooShortForPolicy
from fieldclient.fieldwork import pinpolicy, serverconfig
from fieldclient.security.keystore import FileSecretStore
from fieldclient.storage.session import setup_device

if TYPE_CHECKING:
    from device_fixtures import FakeClock

PIN = "246810"
LONG_PIN = "2468101214"


@pytest.mark.parametrize("bad", [{"min_digits": 5}, {"min_digits": 13}, {"min_digits": "8"},
                                 {"min_digits": True}, {}, {"min_digits": 8, "x": 1}, 8])
def test_centre_refuses_a_bad_policy(bad: object) -> None:
    with pytest.raises(SettingError):
        validate(serverconfig.PIN_POLICY, bad)
    assert validate(serverconfig.PIN_POLICY, {"min_digits": 10}) == {"min_digits": 10}


@pytest.mark.usefixtures("fast_kdf")
def test_a_pin_shorter_than_the_policy_must_be_changed(data_dir: Path, clock: FakeClock) -> None:
    with setup_device(data_dir, PIN, store=FileSecretStore(data_dir), clock=clock) as s:
        assert pinpolicy.min_pin_digits(s) == 6
        with s.db.conn:  # what the sync engine stores from the pull feed
            serverconfig.put(s.db, serverconfig.PIN_POLICY, {"min_digits": 10}, 1)
    with pinpolicy.unlock(data_dir, PIN, clock=clock) as s:
        assert s.pin_change_required
        assert pinpolicy.min_pin_digits(s) == 10
        with pytest.raises(PinTooShortForPolicy) as info:
            pinpolicy.change_pin(s, PIN, "13579024")
        assert "10" in info.value.message("zh_CN") and "10" in info.value.message("en")
        assert info.value.message("en") != info.value.message("zh_CN")
        pinpolicy.change_pin(s, PIN, LONG_PIN)
        assert not s.pin_change_required
    with pinpolicy.unlock(data_dir, LONG_PIN, clock=clock) as s:
        assert not s.pin_change_required
