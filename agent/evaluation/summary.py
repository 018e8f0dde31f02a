"""What `jobagent eval` prints: the per-metric table and the worst rows, for a terminal or a CI log."""

from __future__ import annotations

from typing import Any

from agent.evaluation.metrics import aggregate, primary


def metric_table(report: Any) -> str:
    """One line per metric: its headline figure, other aggregates, rows scored, threshold and status."""
    gates = {g.key: g for g in report.gates}
    head = ("METRIC", "VALUE", "OTHER", "ROWS", "THRESHOLD", "STATUS")
    lines: list[tuple[str, ...]] = [head]
    for name in report.definitions:
        results = [r.results.get(name) for r in report.rows]
        results = [r for r in results if r is not None]
        aggs = aggregate(results)
        key = primary(aggs)
        scored = sum(r.score is not None for r in results)
        errors = int(aggs.get("error_count", 0))
        gate = gates.get(f"{name}/{key}") if key else gates.get(f"{name}/pass_rate")
        other = ", ".join(f"{k}={v:.3g}" for k, v in aggs.items() if k not in (key, "error_count"))
        lines.append(
            (
                f"{name}/{key}" if key else name,
                f"{aggs[key]:.3f}" if key else "n/a",
                other + (f" errors={errors}" if errors else ""),
                str(scored),
                gate.threshold.describe() if gate else "",
                _status(gate) if key else ("no data" if gate else ""),
            )
        )
    for key, value in sorted(report.metrics.items()):
        if key.startswith(("feedback/", "eval/")):
            gate = gates.get(key)
            lines.append(
                (key, f"{value:.3f}", "", "", gate.threshold.describe() if gate else "", _status(gate))
            )
    for gate in report.gates:  # thresholds on other figures with no value in this run (e.g. too few votes)
        if gate.value is None and gate.key.split("/")[0] not in report.definitions:
            lines.append((gate.key, "n/a", "", "0", gate.threshold.describe(), "no data"))
    return _columns(lines)


def _status(gate: Any) -> str:
    if gate is None:
        return ""
    return "ok" if gate.ok else "FAIL"


def gated_names(report: Any) -> set[str]:
    """Metrics the worst-rows ranking uses: the gated ones, else all higher-is-better ones."""
    gated = {g.key.split("/")[0] for g in report.gates} & set(report.definitions)
    return gated or {k for k, m in report.definitions.items() if m.greater_is_better}


def row_score(run: Any, chosen: set[str]) -> tuple[float, list[tuple[str, Any]]]:
    """(mean score over `chosen` metrics, -1 for a crashed row; the misses, worst first)."""
    values = [r.score for k, r in run.results.items() if k in chosen and r.score is not None]
    mean = sum(values) / len(values) if values else 1.0
    bad = [(k, r) for k, r in run.results.items() if k in chosen and r.score is not None and r.score < 1.0]
    return (-1.0 if run.error else mean), sorted(bad, key=lambda kv: kv[1].score)


def worst_rows(report: Any, n: int = 5) -> str:
    """The rows with the lowest mean score over the gated metrics, with what went wrong."""
    chosen = gated_names(report)
    scored = sorted(((*row_score(r, chosen), r) for r in report.rows), key=lambda t: (t[0], t[2].row.id))
    out = []
    for mean, misses, run in scored[:n]:
        if mean >= 1.0:
            break
        out.append(f"  {run.row.id}  (mean score {max(mean, 0):.2f})  {run.row.request[:90]}")
        if run.error:
            out.append(f"      error: {run.error}")
        for name, r in misses[:4]:
            out.append(f"      {name} = {r.score:.2f}: {(r.rationale or '')[:150]}")
    return "\n".join(out) if out else "  (every row scored 1.0 on every gated metric)"


def _columns(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
