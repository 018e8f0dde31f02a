"""``jobagent report``: metric history of the experiment's evaluation runs as one self-contained HTML
page (PNG charts embedded as base64) plus markdown with the charts beside it.

The MLflow UI is the live dashboard; this is the page to attach to a review or a release note.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.evaluation import feedback, rules

SKIP = ("/p90", "/error_count", "/variance")


@dataclass
class History:
    runs: list[Any]  # mlflow Run objects, oldest first
    keys: list[str]  # the headline figures (pass rates and means)


def load_history(settings: Any, tracking: str | None, experiment: str | None, last: int) -> History:
    import mlflow

    from agent.evaluation.tracing import configure

    _, experiment_id = configure(settings, tracking, experiment)
    runs = mlflow.MlflowClient().search_runs(
        [experiment_id],
        filter_string="tags.`jobagent.kind` = 'eval'",
        order_by=["attributes.start_time DESC"],
        max_results=last,
    )[::-1]
    keys = sorted(
        {
            k
            for r in runs
            for k in r.data.metrics
            if not k.endswith(SKIP) and not k.startswith("eval/") and not k.startswith("plan_latency")
        }
    )
    return History(runs, keys)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def charts(hist: History, fb_rows: list[dict[str, Any]]) -> dict[str, bytes]:
    """metrics.png (one line per headline figure over the runs) and, with votes, feedback.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.set_prop_cycle(color=plt.cm.tab20.colors)
    labels = [f"{datetime.fromtimestamp(r.info.start_time / 1000, UTC):%m-%d %H:%M}" for r in hist.runs]
    for key in hist.keys:
        pts = [(i, r.data.metrics[key]) for i, r in enumerate(hist.runs) if key in r.data.metrics]
        if pts and not key.startswith("feedback/"):
            ax.plot(*zip(*pts, strict=True), marker="o", label=key)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
    ax.set_xlim(-0.5, max(len(labels) - 0.5, 0.5))
    ax.set_ylim(-0.02, 1.05)
    ax.set_title("jobagent evaluation: metric history per run")
    ax.set_ylabel("pass rate / mean")
    ax.grid(alpha=0.3)
    if hist.keys:
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    out["metrics.png"] = _png(fig)
    plt.close(fig)
    if fb_rows:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        for action in sorted({r["action"] for r in fb_rows}):
            pts = [(r["period"], r["thumbs_down_rate"]) for r in fb_rows if r["action"] == action]
            ax.plot(*zip(*pts, strict=True), marker="o", label=action)
        ax.set_ylim(-0.02, 1.05)
        ax.set_title("thumbs-down rate per week and action")  # DejaVu Sans has no emoji glyphs
        ax.legend()
        ax.grid(alpha=0.3)
        out["feedback.png"] = _png(fig)
        plt.close(fig)
    return out


def _latest_rows(run: Any, n: int = 10) -> list[dict[str, Any]]:
    import mlflow

    try:
        data = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/eval_rows.json")
    except Exception:
        return []
    rows = sorted(data.get("rows", []), key=lambda r: (r.get("mean", 1.0), r["id"]))
    return [r for r in rows if r.get("mean", 1.0) < 1.0][:n]


def build(
    settings: Any,
    out_dir: str | Path,
    tracking: str | None = None,
    experiment: str | None = None,
    last: int = 50,
) -> dict[str, Path]:
    """Write report.html, report.md and the PNGs into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hist = load_history(settings, tracking, experiment, last)
    fb_rows = feedback.history(feedback.load_records(settings))
    images = charts(hist, fb_rows)
    for name, data in images.items():
        (out / name).write_bytes(data)
    guidelines = rules.load()
    thresholds = {**guidelines.thresholds, **guidelines.monitor_thresholds}
    latest = hist.runs[-1] if hist.runs else None
    table = _metric_table(latest, thresholds) if latest else []
    worst = _latest_rows(latest) if latest else []
    md = _markdown(hist, table, worst, fb_rows, images)
    (out / "report.md").write_text(md, encoding="utf-8")
    (out / "report.html").write_text(_html(hist, table, worst, fb_rows, images), encoding="utf-8")
    return {"html": out / "report.html", "markdown": out / "report.md", **{n: out / n for n in images}}


def _metric_table(run: Any, thresholds: dict[str, rules.Threshold]) -> list[tuple[str, str, str, str]]:
    rows = []
    by_key = {}
    for name, t in thresholds.items():
        key = (
            name
            if name in run.data.metrics
            else next(
                (f"{name}/{a}" for a in ("pass_rate", "mean") if f"{name}/{a}" in run.data.metrics), name
            )
        )
        by_key[key] = t
    for key, value in sorted(run.data.metrics.items()):
        t = by_key.get(key)
        if key.endswith(SKIP) and t is None:
            continue
        status = "" if t is None else ("ok" if t.passes(value) else "BELOW")
        rows.append((key, f"{value:.3f}", t.describe() if t else "", status))
    return rows


def _markdown(hist: History, table: list, worst: list, fb_rows: list, images: dict) -> str:
    lines = [
        f"# jobagent evaluation report ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{len(hist.runs)} evaluation runs.",
        "",
    ]
    if "metrics.png" in images:
        lines += ["![metric history](metrics.png)", ""]
    if table:
        run = hist.runs[-1]
        lines += [
            f"## Latest run {run.info.run_id}",
            "",
            "| metric | value | threshold | status |",
            "|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table),
            "",
        ]
    if worst:
        lines += ["## Worst rows", "", "| row | request | mean | misses |", "|---|---|---|---|"]
        for r in worst:
            low = "; ".join(f"{k}: {(why or '')[:90]}" for k, why in list(r.get("misses", {}).items())[:3])
            cells = [r["id"], r["request"][:70], f"{max(r['mean'], 0):.2f}", low]
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        lines.append("")
    if fb_rows:
        lines += [
            "## 👎 rate over time",
            "",
            "![feedback](feedback.png)",
            "",
            "| period | action | 👍 | 👎 | 👎 rate |",
            "|---|---|---|---|---|",
            *(
                f"| {r['period']} | {r['action']} | {r['up']} | {r['down']} | {r['thumbs_down_rate']:.2f} |"
                for r in fb_rows
            ),
            "",
        ]
    return "\n".join(lines)


def _html(hist: History, table: list, worst: list, fb_rows: list, images: dict) -> str:
    md = _markdown(hist, table, worst, fb_rows, images)
    body = []
    in_table = False
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            tag = "th" if not in_table else "td"
            body.append(
                ("<table>" if not in_table else "")
                + "<tr>"
                + "".join(f"<{tag}>{c}</{tag}>" for c in cells)
                + "</tr>"
            )
            in_table = True
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("!["):
            name = line[line.index("(") + 1 : -1]
            data = base64.b64encode(images[name]).decode()
            body.append(f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}img{max-width:100%}"
    )
    meta = json.dumps({"runs": [r.info.run_id for r in hist.runs]})
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>jobagent evaluation report</title>"
        f"<style>{style}</style></head><body>{''.join(body)}<!-- {html.escape(meta)} --></body></html>"
    )
