"""CLI: ``jobagent eval``, ``jobagent feedback export|sync``, ``jobagent monitor``, ``jobagent report``.

mlflow, pandas and apscheduler are imported inside the handlers so ``jobagent --help`` stays fast.
Exit codes: 0 all thresholds met, 1 a metric missed its threshold (CI gates on this), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

TRACKING_HELP = "MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite:///$JOBAGENT_HOME/mlflow.db)"
EXPERIMENT_HELP = "MLflow experiment (default: $JOBAGENT_MLFLOW_EXPERIMENT or 'jobagent')"


def add_commands(sub: Any) -> dict[str, Any]:
    ev = sub.add_parser(
        "eval",
        help="measure the Tech Lead on a dataset; logs to MLflow; exit 1 below a threshold",
        description="Plan every dataset row with the Tech Lead (one MLflow trace per row), score the plans "
        "with the built-in and your @metric functions through mlflow.models.evaluate, log the run to "
        "MLflow, print the per-metric table and the worst rows. Exit 1 when a metric misses its threshold.",
    )
    ev.add_argument("--dataset", help="JSONL dataset (default: data/eval/dataset.jsonl)")
    ev.add_argument(
        "--metrics",
        action="append",
        default=[],
        metavar="MODULE.py",
        help="a Python file with extra @metric functions (repeatable)",
    )
    _mlflow_args(ev)
    ev.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="gate: name=0.9 (minimum), name<=0.3 (maximum); overrides guidelines.yaml (repeatable)",
    )
    ev.add_argument("--worst", type=int, default=5, help="how many worst rows to show (default 5)")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")

    fb = sub.add_parser(
        "feedback", help="👍/👎 from Slack: export 👎 plans as dataset rows, or attach votes to traces"
    )
    fb_sub = fb.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    export = fb_sub.add_parser("export", help="👎 tasks as candidate dataset rows (JSONL, review: true)")
    export.add_argument("--out", help="write here (default: stdout)")
    sync = fb_sub.add_parser("sync", help="attach votes on traced plans to their MLflow traces")
    _mlflow_args(sync)

    mon = sub.add_parser("monitor", help="re-run the evaluation on a schedule and alert once per incident")
    mon.add_argument("--interval", type=float, help="minutes between checks (default: guidelines.yaml, 60)")
    mon.add_argument(
        "--once", action="store_true", help="one check now, then exit (1 if a figure is failing)"
    )
    mon.add_argument("--dataset", help="JSONL dataset (default: data/eval/dataset.jsonl)")
    mon.add_argument("--feedback-only", action="store_true", help="check the 👎 rate only, no dataset run")
    _mlflow_args(mon)
    mon.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE", help="as for eval")

    rep = sub.add_parser("report", help="HTML + markdown report of the metric history (PNG charts)")
    rep.add_argument("--out", help="directory to write into (default: $JOBAGENT_HOME/report)")
    rep.add_argument("--last", type=int, default=50, help="newest N evaluation runs (default 50)")
    _mlflow_args(rep)
    return {"eval": cmd_eval, "feedback": cmd_feedback, "monitor": cmd_monitor, "report": cmd_report}


def _mlflow_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracking-uri", help=TRACKING_HELP)
    p.add_argument("--experiment", help=EXPERIMENT_HELP)


def _thresholds(texts: list[str], metrics: list[Any]) -> dict[str, Any]:
    from agent.evaluation.rules import parse_threshold

    lower = {m.name for m in metrics if not m.greater_is_better} | {"feedback"}
    out = {}
    for text in texts:
        t = parse_threshold(text, lower)
        out[t.name] = t
    return out


def cmd_eval(args: argparse.Namespace, settings: Any) -> int:
    from agent.evaluation.builtin import builtin_metrics
    from agent.evaluation.metrics import MetricError, check_names, load_metrics_file
    from agent.evaluation.runner import known_figure, run_evaluation
    from agent.evaluation.summary import metric_table, worst_rows

    try:
        extra = [m for path in args.metrics for m in load_metrics_file(path)]
        every = [*builtin_metrics(), *extra]
        check_names(every)
        thresholds = _thresholds(args.threshold, every)
        unknown = [n for n in thresholds if not known_figure(n, every)]
        if unknown:
            raise ValueError(f"--threshold names no metric: {', '.join(unknown)} (see the table of a run)")
    except (MetricError, ImportError, SyntaxError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = run_evaluation(
        settings,
        dataset=args.dataset,
        extra_metrics=extra,
        tracking=args.tracking_uri,
        experiment=args.experiment,
        thresholds=thresholds,
        progress=not args.no_progress,
    )
    print(metric_table(report))
    print(f"\nWorst rows:\n{worst_rows(report, args.worst)}")
    print(
        f"\n{len(report.rows)} rows in {report.seconds:.1f}s · MLflow run {report.run_id} "
        f"(experiment {report.experiment_id}) at {report.tracking_uri}"
    )
    for gate in report.failed:
        print(f"FAIL {gate.key} = {gate.value:.3f}, threshold {gate.threshold.describe()}", file=sys.stderr)
    return 1 if report.failed else 0


def cmd_feedback(args: argparse.Namespace, settings: Any) -> int:
    from agent.evaluation import feedback
    from agent.evaluation.dataset import write_rows

    if args.feedback_command == "sync":
        n = feedback.sync_feedback(settings, args.tracking_uri, args.experiment)
        print(f"{n} feedback assessment(s) attached to traces.")
        return 0
    rows = feedback.export_rows(settings)
    text = write_rows(rows, args.out)
    if args.out:
        print(
            f"{len(rows)} candidate row(s) from 👎 plans written to {args.out} (review: true).",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


def cmd_monitor(args: argparse.Namespace, settings: Any) -> int:
    import threading

    from agent.evaluation.alerts import log_only
    from agent.evaluation.monitor import Monitor, MonitorOptions, start_monitor
    from bot.alerts import slack_poster  # the Slack adapter, loaded only for this command

    options = MonitorOptions(
        dataset=args.dataset,
        tracking=args.tracking_uri,
        experiment=args.experiment,
        thresholds=_thresholds(args.threshold, []),
        evaluate=not args.feedback_only,
    )
    post = slack_poster() or log_only
    if args.once:
        tick = Monitor(settings, post, options).tick()
        for key, gate in tick.failing.items():
            print(f"FAIL {key} = {gate.value:.3f}, threshold {gate.threshold.describe()}", file=sys.stderr)
        print(
            f"checked: {len(tick.failing)} failing, {len(tick.opened)} new incident(s), "
            f"{len(tick.closed)} recovered"
        )
        return 1 if tick.failing else 0
    scheduler = start_monitor(settings, post, interval=args.interval, run_now=True, options=options)
    job = scheduler.get_job("jobagent-eval-monitor")
    print(
        f"monitoring every {job.trigger.interval.total_seconds() / 60:g} min; Ctrl-C to stop", file=sys.stderr
    )
    try:
        threading.Event().wait()
    finally:
        scheduler.shutdown(wait=False)
    return 0


def cmd_report(args: argparse.Namespace, settings: Any) -> int:
    from agent.evaluation.report import build

    out = args.out or settings.home / "report"
    paths = build(settings, out, args.tracking_uri, args.experiment, args.last)
    print(f"report: {paths['html']} (self-contained) and {paths['markdown']}")
    return 0
