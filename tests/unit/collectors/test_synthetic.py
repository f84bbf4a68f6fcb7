"""The synthetic source splices ids into pre-serialized templates; its records must be
byte for byte what the straightforward construction makes: a copy of the template,
the incident's alteration, the id and ts, orjson."""

import random

import orjson

from collectors.incidents import OUTAGE_PROVIDER, SCENARIO_S, IncidentScript
from collectors.synthetic import POISON, SyntheticSource

T0 = 1_800_000_000.123457


class Reference:
    """The generator as it was written first, one dict per event."""

    def __init__(self, seed: int, poison_every: int):
        self.source = SyntheticSource(seed=seed, poison_every=poison_every)  # its rng and templates
        self.count = 0

    def batch(self, n, now, alter, ids):
        src, rng = self.source, self.source.rng
        out = {"logs": [], "metrics": [], "security": []}
        for _ in range(n):
            self.count += 1
            if src.poison_every and self.count % src.poison_every == 0:
                out["logs"].append((b"", POISON[(self.count // src.poison_every) % len(POISON)]))
                continue
            r = rng.random()
            stream = "logs" if r < src.mix.logs else "metrics" if r < src.mix.logs + src.mix.metrics else "security"
            pool = src.templates[stream]
            d = dict(pool[int(rng.random() * len(pool))])
            if alter is not None:
                alter(stream, d)
            d["event_id"] = next(ids)
            d["ts"] = now
            out[stream].append((d["event_id"].encode(), orjson.dumps(d)))
        return out


def _same_as_reference(seed, poison_every, steps):
    """steps: (n, alter for the source, the same alter for the reference)."""
    source, ref = SyntheticSource(seed=seed, poison_every=poison_every), Reference(seed, poison_every)
    made = []
    for i, (n, alter, ref_alter) in enumerate(steps):
        now = T0 + i * 0.5
        got = source.batch(n, now, alter)
        # ids are random: the reference takes them, in event order, from what the source made
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
