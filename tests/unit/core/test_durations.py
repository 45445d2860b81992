"""Durations are written the way SLAs are (2m, 26h, 2d), to the unit that matters, and read back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meshwork.core import durations


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=0), "0s"),
        (timedelta(seconds=59.9), "59s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(minutes=3, seconds=20), "3m 20s"),
        (timedelta(hours=26, minutes=5), "1d 2h"),
        (timedelta(hours=4, minutes=5, seconds=9), "4h 5m"),
        (timedelta(days=30), "30d"),
        (-timedelta(minutes=5), "-5m"),
        (90.0, "1m 30s"),
    ],
)
def test_a_duration_is_written_in_at_most_two_units(value, text):
    assert durations.humanize(value) == text


def test_parse_reads_the_sla_notation_and_names_the_setting_when_it_cannot():
    assert durations.parse("30m", "X") == timedelta(minutes=30)
    assert durations.parse(" 2d ", "X") == timedelta(days=2)
    with pytest.raises(ValueError, match="MESH_NOTICE_ESCALATE_AFTER='4 hours'"):
        durations.parse("4 hours", "MESH_NOTICE_ESCALATE_AFTER")
