from sluice.waiting import drain_poll_s


def test_the_drain_poll_waits_half_the_time_left_within_bounds():
    assert drain_poll_s(1_000_000, 0.0) == 0.5  # no rate seen yet
    assert drain_poll_s(1_000_000, 50_000.0) == 2.0  # a long backlog: progress every 2 s
    assert drain_poll_s(50_000, 50_000.0) == 0.5
    assert drain_poll_s(1_000, 50_000.0) == 0.25  # nearly done: the end is seen within 0.25 s
