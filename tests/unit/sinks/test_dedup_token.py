import re

from sinks.clickhouse.sink import dedup_token


def test_token_is_rebuilt_identically_from_the_same_coordinates():
    a = dedup_token("c1", "sluice.logs", {0: (10, 99), 1: (5, 7)})
    b = dedup_token("c1", "sluice.logs", {1: (5, 7), 0: (10, 99)})
    assert a == b


def test_token_differs_when_any_coordinate_differs():
    base = dedup_token("c1", "sluice.logs", {0: (10, 99)})
    assert base != dedup_token("c1", "sluice.logs", {0: (10, 100)})
    assert base != dedup_token("c1", "sluice.logs", {0: (11, 99)})
    assert base != dedup_token("c1", "sluice.logs", {1: (10, 99)})
    assert base != dedup_token("c1", "sluice.metrics", {0: (10, 99)})
    assert base != dedup_token("c2", "sluice.logs", {0: (10, 99)})  # another cluster's offsets


def test_token_is_safe_inside_a_sql_string():
    token = dedup_token("c1", "we'ird topic\\", {0: (1, 2)})
    assert re.fullmatch(r"[A-Za-z0-9._-]+", token), token
    assert token != dedup_token("c1", "we_ird_topic_", {0: (1, 2)})  # sanitizing does not merge topics
