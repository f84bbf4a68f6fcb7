import pytest
from pydantic import ValidationError

from sluice.settings import load_settings
from streams.clock import ClockConfig


def test_default_is_the_wall_clock():
    clock = ClockConfig()
    assert clock.at(1_000.0) == 1_000.0


def test_platform_time_runs_speed_times_faster_from_the_origin():
    clock = ClockConfig(speed=20, origin=1_000.0)
    assert clock.at(900.0) == 900.0
    assert clock.at(1_000.0) == 1_000.0
    assert clock.at(1_003.0) == 1_060.0
    assert clock.at(1_060.0) == 2_200.0


def test_platform_time_can_start_in_the_past_and_catch_up():
    clock = ClockConfig(speed=10, origin=1_000.0, start=1_000.0 - 9 * 60)  # a 60 s run ending at wall time
    assert clock.at(1_000.0) == 460.0
    assert clock.at(990.0) == 450.0
    assert clock.at(1_060.0) == 1_060.0


def test_a_speed_needs_an_origin_and_must_not_slow_time_down():
    with pytest.raises(ValidationError, match="needs an origin"):
        ClockConfig(speed=10)
    with pytest.raises(ValidationError):
        ClockConfig(speed=0.5, origin=0)


def test_settings_carry_the_clock_to_child_processes(tmp_path):
    settings = load_settings(data_dir=tmp_path, **{"clock.speed": 17, "clock.origin": 5.0})
    reloaded = load_settings(settings.write_for_children(tmp_path / "s.yaml"))
    assert reloaded.clock == ClockConfig(speed=17, origin=5.0)
