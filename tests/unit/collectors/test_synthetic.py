"""The synthetic source splices ids into pre-serialized templates; its records must be
byte for byte what the straightforward construction makes: a copy of the template,
the incident's alteration, the id and ts, orjson."""

import random
from collections import Counter

import orjson

from collectors.incidents import OUTAGE_PROVIDER, SCENARIO_S, IncidentScript
from collectors.synthetic import POISON, Mix, SyntheticSource

T0 = 1_800_000_000.123457


class Reference:
    """The generator written the straightforward way, one dict per event, from the same
    draws (the source's `draw`, on a twin with the same seed)."""

    def __init__(self, seed: int, poison_every: int):
        self.source = SyntheticSource(seed=seed, poison_every=poison_every)  # its rng and templates
        self.count = 0

    def batch(self, n, now, alter, ids):
        src = self.source
        poison = []
        for i in range(n):
            self.count += 1
            if src.poison_every and self.count % src.poison_every == 0:
                poison.append((i, POISON[(self.count // src.poison_every) % len(POISON)]))
        out = {}
        for stream, picks in src.draw(n - len(poison)).items():
            out[stream] = []
            for pick in picks:
                d = dict(src.template(stream, pick))
                if alter is not None:
                    alter(stream, d)
                d["event_id"] = next(ids)
                d["ts"] = now
                out[stream].append((d["event_id"].encode(), orjson.dumps(d)))
        for at, record in poison:
            out["logs"].insert(at * len(out["logs"]) // n, (b"", record))
        return out


def _same_as_reference(seed, poison_every, steps):
    """steps: (n, alter for the source, the same alter for the reference)."""
    source, ref = SyntheticSource(seed=seed, poison_every=poison_every), Reference(seed, poison_every)
    made = []
    for i, (n, alter, ref_alter) in enumerate(steps):
        now = T0 + i * 0.5
        got = source.batch(n, now, alter)
        # ids are random: the reference takes them, in the order minted (streams in turn),
        # from what the source made
        ids = iter(sorted(k.decode() for items in got.values() for k, _v in items if k))
        assert got == ref.batch(n, now, ref_alter, ids)
        assert next(ids, None) is None
        made.append(got)
    return made


def test_records_are_the_reference_construction_with_poison_every_n_records():
    made = _same_as_reference(11, 7, [(1, None, None), (20, None, None), (0, None, None), (3000, None, None)])
    logs = made[-1]["logs"]
    poison = [v for k, v in logs if not k]
    assert len(poison) == sum(c % 7 == 0 for c in range(22, 3022)) and set(poison) == set(POISON)
    event = orjson.loads(next(v for k, v in logs if k))
    assert isinstance(event["ts"], float) and event["env"] == "prod" and event["event_id"]
    mix = {s: len(items) for s, items in made[-1].items()}
    events = 3000 - len(poison)
    assert 0.55 < (mix["logs"] - len(poison)) / events < 0.65 and 0.05 < mix["security"] / events < 0.15


def test_an_incident_alters_events_as_it_did():
    a, b = IncidentScript(SCENARIO_S, seed=3), IncidentScript(SCENARIO_S, seed=3)
    made = _same_as_reference(5, 0, [(4000, a.alteration(100.0), b.alteration(100.0)), (500, None, None)])
    failed = [orjson.loads(v) for _k, v in made[0]["logs"] if b"provider timeout" in v]
    assert failed and {e["provider"] for e in failed} == {OUTAGE_PROVIDER}


def _meddler(seed):
    """Touches one event in three, through every way of changing a dict, some of them
    leaving an equal event (True == 1) that serializes differently."""
    rng = random.Random(seed)

    def alter(stream, event):
        roll = rng.random()
        if roll < 0.67:
            return
        key = next(iter(event))
        if roll < 0.72:
            event["level"] = "error"
        elif roll < 0.77:
            del event[key]
        elif roll < 0.8:
            event.update(extra=1)
        elif roll < 0.82:
            event |= {"extra": 2}
        elif roll < 0.87:
            event.setdefault("event_id", "set-by-the-incident")
        elif roll < 0.92:
            event |= {key: event.pop(key)}  # the same field, moved last
        elif roll < 0.96:
            ints = [k for k, v in event.items() if type(v) is int]
            if ints:
                event[ints[0]] = float(event[ints[0]])  # equal, yet "2.0" where it was "2"
        else:
            event.clear()
    return alter


def test_any_change_an_alteration_makes_is_kept():
    _same_as_reference(3, 50, [(3000, _meddler(1), _meddler(1))])


def test_streams_follow_the_mix_and_every_template_is_drawn_about_as_often():
    source = SyntheticSource(seed=2, mix=Mix(logs=0.5, metrics=0.25, security=0.25), poison_every=0)
    picks = source.draw(120_000)
    assert sum(map(len, picks.values())) == 120_000
    assert abs(len(picks["logs"]) / 120_000 - 0.5) < 0.01 and abs(len(picks["security"]) / 120_000 - 0.25) < 0.01
    for stream, pool in source.templates.items():
        drawn = Counter(p % len(pool) for p in picks[stream])
        mean = len(picks[stream]) / len(pool)
        assert len(drawn) == len(pool) and max(drawn.values()) < 3 * mean, stream


def test_a_batch_of_one_or_none():
    source = SyntheticSource(seed=4, poison_every=0)
    assert sum(map(len, source.batch(1, T0).values())) == 1 and sum(map(len, source.batch(0, T0).values())) == 0


def _events_of_arrays(items):
    """The (id, object) events of (ids, array) records, each re-serialized by orjson (which
    writes what it read byte for byte), checking that the ids name the events in order."""
    out = []
    for ids, value in items:
        if not ids:  # poison
            continue
        events = orjson.loads(value)
        assert [e["event_id"].encode() for e in events] == ids
        out.extend((eid, orjson.dumps(e)) for eid, e in zip(ids, events, strict=True))
    return out


def test_arrays_hold_the_same_events_as_single_records():
    per = 7
    a, b = IncidentScript(SCENARIO_S, seed=3), IncidentScript(SCENARIO_S, seed=3)
    for alter, ref_alter in ((None, None), (a.alteration(100.0), b.alteration(100.0)), (_meddler(1), _meddler(1))):
        source = SyntheticSource(seed=3, poison_every=50, events_per_record=per)
        ref = Reference(3, 50)
        got = source.batch(3000, T0, alter)
        ids = iter(sorted(eid.decode() for items in got.values() for ids, _v in items for eid in ids if ids))
        want = ref.batch(3000, T0, ref_alter, ids)
        for stream, items in got.items():
            assert _events_of_arrays(items) == [item for item in want[stream] if item[0]]
            assert [v for k, v in items if not k] == [v for k, v in want[stream] if not k]
            sizes = [len(ids) for ids, _v in items if ids]
            assert all(size == per for size in sizes[:-1]) and 0 < sizes[-1] <= per


def test_events_per_record_is_checked():
    try:
        SyntheticSource(events_per_record=0)
    except ValueError as exc:
        assert "events_per_record" in str(exc)
    else:
        raise AssertionError("accepted 0 events per record")
