import re
import uuid

from collectors.ids import Uuid7Generator
from schemas.ids import stable_event_id


def test_uuid7_is_valid_time_ordered_and_unique():
    gen = Uuid7Generator()
    ids = [gen.next(1_800_000_000.123) for _ in range(5000)]
    assert len(set(ids)) == 5000
    assert ids == sorted(ids)  # same millisecond: the counter keeps order
    u = uuid.UUID(ids[0])
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert int(ids[0].replace("-", "")[:12], 16) == 1_800_000_000_123


def test_stable_event_id_is_a_uuid_and_deterministic():
    a = stable_event_id("sluice.raw.logs", 3, 42)
    assert a == stable_event_id("sluice.raw.logs", 3, 42) != stable_event_id("sluice.raw.logs", 3, 43)
    assert a != stable_event_id("sluice.raw.logs", 2, 42) != stable_event_id("sluice.raw.logs", 3, 42, index=1)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", a)
    uuid.UUID(a)
