"""The paired tests' verdicts as the report's sentences use them: every claim the summary makes is one of these."""
from __future__ import annotations

from dataclasses import dataclass


def index(tests: list[dict]) -> dict[tuple[str, str, str], dict]:
    """{(method, baseline, metric): test} from the list in evaluate_tests.json / segment_tests.json."""
    return {(t["method"], t["baseline"], t["metric"]): t for t in tests}


def verdict(test: dict | None) -> str:
    """'better' / 'worse' (significant after Holm in that direction), 'n.s.', or 'untested' (no such test)."""
    if test is None:
        return "untested"
    return "better" if test["better"] else "worse" if test["worse"] else "n.s."


@dataclass
class Tally:
    """The metrics of one comparison sorted by verdict."""
    better: list[str]
    worse: list[str]
    same: list[str]          # n.s.

    @property
    def tested(self) -> int:
        return len(self.better) + len(self.worse) + len(self.same)


def tally(tests: dict, method: str, baseline: str, metrics) -> Tally:
    """Which of `metrics` the comparison `method` - `baseline` found better, worse or not different; metrics that
    were not tested are left out."""
    out = Tally([], [], [])
    for m in metrics:
        v = verdict(tests.get((method, baseline, m)))
        if v != "untested":
            {"better": out.better, "worse": out.worse, "n.s.": out.same}[v].append(m)
    return out


def compared(tests: dict, method: str, baseline: str, metric: str) -> str:
    """'significantly higher than', 'significantly lower than' or 'not significantly different from' (a value's
    direction, whichever way is better), from the test of `metric`."""
    t = tests.get((method, baseline, metric))
    if t is None or verdict(t) == "n.s.":
        return "not significantly different from" if t is not None else "not tested against"
    higher = t["rank_biserial"] > 0
    return "significantly higher than" if higher else "significantly lower than"
