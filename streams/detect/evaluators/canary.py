"""canary: compare a canary's metrics with its baseline after a deployment.

Inputs, all in the same group (normally `group_by: [service]`):
- a deployment `{"kind": "deployment", "ts", "service", "version",
  "canary_group", "baseline_group", ...}` (the rule's `filter` applies to it)
  opens an analysis for `analysis` seconds; a newer deployment replaces it;
- metric samples (or rollups, `samples: rollups`) whose `group_field`
  (default `labels.deployment_group`) names the canary or baseline group are
  collected per configured metric (`metrics[].filter` / `value`).

When the analysis time is over (a sample past the end, or `tick`), each metric
is judged with Mann-Whitney U and Cliff's delta (`streams.detect.canary`) and
the canary gets pass / marginal / fail (or inconclusive without data). Verdicts
in `alert_on` (default: fail) raise an alert whose `values.recommendation` is
`rollback` (fail) or `hold` (marginal); the last verdict stays in the state.
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.detect import expr_ast as ast
from streams.detect.canary import judge_metric, overall_verdict
from streams.detect.evaluators.base import Alert, CompileContext, CompiledRule, State, item_time, source_of
from streams.detect.model import CanaryRule

_RECOMMENDATION = {"fail": "rollback", "marginal": "hold", "pass": "promote", "inconclusive": "extend the analysis"}


class CanaryEvaluator(CompiledRule):
    kind = "canary"

    def __init__(self, model: CanaryRule, ctx: CompileContext):
        super().__init__(model, ctx)
        self.m = model
        self.sources = frozenset({"deployments", model.samples})
        self.group_field = ctx.path(model.group_field, ("group_field",), reads=model.samples)
        self.metrics = []
        for index, metric in enumerate(model.metrics):
            where = ("metrics", index)
            self.metrics.append((metric, ctx.expr(metric.filter, where + ("filter",), reads=model.samples),
                                 ctx.expr(metric.value, where + ("value",), reads=model.samples)))
        names = [metric.name for metric in model.metrics]
        if len(set(names)) != len(names):
            ctx.problem(("metrics",), "metric names must be unique")
        self.critical = {metric.name for metric in model.metrics if metric.critical}

    def accepts(self, item: Mapping) -> bool:
        source = source_of(item)
        if source == "deployments":
            return self.filter is None or self.filter.test(item)
        if source != self.m.samples:
            return False
        # Only samples tagged with a deployment group can be canary or baseline evidence;
        # checking that first keeps ordinary traffic (most samples) out of the detect stage.
        if self.group_field is not None and not ast.resolve(item, self.group_field.parts):
            return False
        return any(f is not None and f.test(item) for _, f, _ in self.metrics)

    def step(self, state: State, item: Mapping, now: float) -> list[Alert]:
        t = item_time(item)
        if source_of(item) == "deployments":
            state["analysis"] = {
                "version": str(item.get("version", "")),
                "canary_group": str(item.get("canary_group") or "canary"),
                "baseline_group": str(item.get("baseline_group") or "baseline"),
                "started_at": t,
                "until": t + self.m.analysis,
                "event_id": item.get("event_id", ""),
            }
            state["samples"] = {}
            return []
        analysis = state.get("analysis")
        if not analysis or t < analysis["started_at"]:
            return []
        if t >= analysis["until"]:
            return self._finish(state, t)
        which = self._which(item, analysis)
        if which is None:
            return []
        for metric, selector, value in self.metrics:
            if selector is None or value is None or not selector.test(item):
                continue
            try:
                number = ast.to_number(value.evaluate(item))
            except ast.EvalError:
                number = None
            if number is None:
                continue
            bucket = state["samples"].setdefault(metric.name, {"canary": [], "baseline": []})[which]
            if len(bucket) < self.m.max_samples:
                bucket.append(float(number))
        return []

    def on_tick(self, state: State, now: float) -> list[Alert]:
        analysis = state.get("analysis")
        if analysis and now >= analysis["until"]:
            return self._finish(state, now)
        return []

    def _which(self, item: Mapping, analysis: Mapping) -> str | None:
        if self.group_field is None:
            return None
        name = str(ast.resolve(item, self.group_field.parts) or "")
        if name == analysis["canary_group"]:
            return "canary"
        if name == analysis["baseline_group"]:
            return "baseline"
        return None

    def _finish(self, state: State, t: float) -> list[Alert]:
        analysis = state.pop("analysis")
        samples = state.pop("samples", {})
        verdicts = []
        for metric, _, _ in self.metrics:
            groups = samples.get(metric.name, {"canary": [], "baseline": []})
            verdicts.append(judge_metric(metric.name, groups["canary"], groups["baseline"], bad=metric.bad,
                                         effect=metric.effect, alpha=self.m.alpha, min_samples=self.m.min_samples))
        verdict, score = overall_verdict(verdicts, self.critical, self.m.pass_score, self.m.marginal_score)
        values = {
            "verdict": verdict,
            "score": score,
            "recommendation": _RECOMMENDATION[verdict],
            "version": analysis["version"],
            "canary_group": analysis["canary_group"],
            "baseline_group": analysis["baseline_group"],
            "metrics": [v.as_dict() for v in verdicts],
        }
        state["last_verdict"] = {"verdict": verdict, "score": score, "version": analysis["version"], "at": t}
        if verdict not in self.m.alert_on:
            return []
        event_ids = [analysis["event_id"]] if analysis.get("event_id") else []
        return [self.alert("firing", state["group"], at=t, starts_at=analysis["started_at"], value=score,
                           values=values, event_ids=event_ids)]
