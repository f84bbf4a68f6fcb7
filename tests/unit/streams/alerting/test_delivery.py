from streams.alerting.delivery import RecentSends


def test_a_message_read_back_from_its_topic_is_not_sent_again_within_the_window():
    sent = RecentSends(window_s=600)
    assert sent.load([("sluice.alerts", "id-1", 1_000.0), ("sluice.alerts.security", "id-2", 1_000.0)]) == 2
    assert not sent.should_send("sluice.alerts", "id-1", now=1_100.0)
    assert sent.should_send("sluice.alerts.payments", "id-1", now=1_100.0)  # another topic never had it
    assert sent.should_send("sluice.alerts", "id-3", now=1_100.0)
    assert sent.should_send("sluice.alerts", "id-1", now=1_700.0)  # a repeat, hours later in practice
    assert sent.skipped == 1


def test_recorded_sends_count_and_old_ones_are_pruned():
    sent = RecentSends(window_s=10)
    for i in range(10_050):
        sent.record("t", f"id-{i}", at=float(i))
    assert not sent.should_send("t", "id-10049", now=10_050.0)
    assert len(sent._sent) < 20
