"""UUIDv7 minted a batch at a time: the same ids, in the same order, as one at a time."""

import re
import uuid

from collectors.ids import Uuid7Generator

T = 1_800_000_000.123
ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _ms(eid: str) -> int:
    return int(eid.replace("-", "")[:12], 16)


def test_a_batch_is_valid_rfc9562_v7_ids():
    ids = Uuid7Generator().many(5000, T)
    assert len(ids) == 5000 and all(isinstance(i, bytes) and ID.fullmatch(i) for i in ids)
    for eid in (ids[0], ids[2500], ids[-1]):
        u = uuid.UUID(eid.decode())
        assert u.version == 7 and u.variant == uuid.RFC_4122 and str(u) == eid.decode()
    assert _ms(ids[0].decode()) == 1_800_000_000_123
    # every digit of the random half is random (the variant takes 2 of the first's 4 bits)
    assert {i[19] for i in ids} == set(b"89ab")
    assert all(len({i[at] for i in ids}) == 16 for at in (*range(20, 23), *range(24, 36)))


def test_batches_and_single_ids_share_one_monotonic_counter():
    gen = Uuid7Generator()
    ids = [i.decode() for i in gen.many(3, T)] + [gen.next(T)] + [i.decode() for i in gen.many(6000, T)]
    ids += [gen.next(T - 5)] + [i.decode() for i in gen.many(2, T - 5)]  # the clock stepping back
    assert gen.many(0, T) == []
    ids += [i.decode() for i in gen.many(2, T + 10)]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    # 4096 ids per ms: the counter runs 000..fff, then the ids borrow the next millisecond
    seqs = [int(i[15:18], 16) for i in ids[:4097]]
    assert seqs == [*range(4096), 0]
    assert _ms(ids[4095]) == 1_800_000_000_123 and _ms(ids[4096]) == 1_800_000_000_124
    assert _ms(ids[-2]) == 1_800_000_010_123 and int(ids[-2][15:18], 16) == 0
