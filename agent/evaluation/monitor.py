"""Scheduled re-evaluation: re-run the dataset, check the recent 👎 rate, alert once per incident.

An incident opens when a gated figure misses its threshold and closes when a later tick sees it pass
again; open incidents live in ``$JOBAGENT_HOME/monitor_incidents.json`` (under a file lock, so the
bot's scheduler and a standalone ``jobagent monitor`` agree). Each incident is posted once — an alert
whose post failed is retried on the next tick — and its recovery is posted once too.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from agent.evaluation import rules
from agent.evaluation.alerts import PostAlert, log_only

log = logging.getLogger(__name__)
JOB_ID = "jobagent-eval-monitor"


@dataclass
class MonitorOptions:
    dataset: str | None = None
    tracking: str | None = None
    experiment: str | None = None
    thresholds: dict[str, rules.Threshold] = field(default_factory=dict)  # on top of guidelines.yaml
    evaluate: bool = True  # False: only the 👎 rate (no dataset run)
    extra_metrics: tuple[Any, ...] = ()
    index: Any = None


@dataclass
class Tick:
    failing: dict[str, Any]
    opened: list[str]
    closed: list[str]
    run_id: str | None = None


class Monitor:
    def __init__(self, settings: Any, post_alert: PostAlert, options: MonitorOptions | None = None):
        self.settings, self.post_alert = settings, post_alert
        self.options = options or MonitorOptions()
        self.guidelines = rules.load()
        self.path = Path(settings.home) / "monitor_incidents.json"

    def tick(self) -> Tick:
        """One check: figures → thresholds → incidents → at most one alert and one recovery post."""
        from agent.evaluation.feedback import feedback_metrics, sync_feedback
        from agent.evaluation.runner import check, run_evaluation

        opts, run_id = self.options, None
        wanted = {**self.guidelines.monitor_thresholds, **opts.thresholds}
        try:
            sync_feedback(self.settings, opts.tracking, opts.experiment)
        except Exception as exc:
            log.warning("feedback sync failed: %s", exc)
        if opts.evaluate:
            report = run_evaluation(
                self.settings,
                dataset=opts.dataset,
                tracking=opts.tracking,
                experiment=opts.experiment,
                thresholds=wanted,
                guidelines=self.guidelines,
                extra_metrics=opts.extra_metrics,
                index=opts.index,
                run_name="monitor",
            )
            gates, run_id = report.gates, report.run_id
        else:
            values = feedback_metrics(self.settings, self.guidelines)
            gates = check(values, {}, wanted)
        failing = {g.key: g for g in gates if not g.ok}
        passing = {g.key: g for g in gates if g.ok and g.value is not None}
        return self._update(failing, passing, run_id)

    def _update(self, failing: dict[str, Any], passing: dict[str, Any], run_id: str | None) -> Tick:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock", timeout=30):
            state = json.loads(self.path.read_text()) if self.path.is_file() else {"open": {}, "closed": []}
            opened = [k for k in failing if k not in state["open"]]
            for key in opened:
                g = failing[key]
                state["open"][key] = {
                    "since": now,
                    "value": g.value,
                    "threshold": g.threshold.describe(),
                    "run_id": run_id,
                    "notified": False,
                }
                log.warning(
                    "quality incident opened: %s = %s (threshold %s)", key, g.value, g.threshold.describe()
                )
            for key in failing:
                state["open"][key]["value"] = failing[key].value
            closed = [k for k in state["open"] if k in passing]
            recovered = {k: state["open"].pop(k) for k in closed}
            state["closed"] = (
                state["closed"] + [{"metric": k, **v, "closed": now} for k, v in recovered.items()]
            )[-50:]
            self._notify(state["open"], recovered, passing, run_id)
            self.path.write_text(json.dumps(state, indent=1, default=str))
        return Tick(failing, opened, closed, run_id)

    def _notify(self, open_: dict, recovered: dict, passing: dict, run_id: str | None) -> None:
        pending = {k: v for k, v in open_.items() if not v["notified"]}
        if pending:
            lines = [
                f"• `{k}` = {_fmt(v['value'])} (threshold {v['threshold']}), since {v['since']}"
                for k, v in pending.items()
            ]
            text = "\n".join(
                [
                    ":rotating_light: jobagent quality alert: a figure missed its threshold.",
                    *lines,
                    _where(run_id),
                    "Posted once; I'll say when it recovers.",
                ]
            )
            if self._post(text):
                for v in pending.values():
                    v["notified"] = True
        recovered = {k: v for k, v in recovered.items() if v["notified"]}  # never announced: nothing to undo
        if recovered:
            lines = [
                f"• `{k}` = {_fmt(passing[k].value)} (threshold {passing[k].threshold.describe()}), "
                f"open since {v['since']}"
                for k, v in recovered.items()
            ]
            self._post("\n".join([":white_check_mark: jobagent quality recovered:", *lines, _where(run_id)]))

    def _post(self, text: str) -> bool:
        text = "\n".join(line for line in text.splitlines() if line)
        log.warning("%s", text)
        try:
            self.post_alert(text)
            return True
        except Exception as exc:  # Slack down: the incident stays un-notified and is retried next tick
            log.error("posting the alert failed (will retry next tick): %s", exc)
            return False

    def safe_tick(self) -> None:
        """The scheduled job: a failing tick is logged, never kills the scheduler."""
        try:
            self.tick()
        except Exception:
            log.exception("monitor tick failed")


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _where(run_id: str | None) -> str:
    return f"MLflow run {run_id} (the run's metrics and traces show which rows)." if run_id else ""


def interval_minutes(settings: Any, given: float | None = None) -> float:
    if given:
        return float(given)
    env = os.environ.get("JOBAGENT_MONITOR_INTERVAL")
    return float(env) if env else float(rules.load().monitor.get("interval_minutes", 60))


def start_monitor(
    settings: Any,
    post_alert: PostAlert | None = None,
    *,
    interval: float | None = None,
    run_now: bool = False,
    options: MonitorOptions | None = None,
) -> Any:
    """A started BackgroundScheduler running a monitor tick every `interval` minutes (the bot calls this;
    without `post_alert`, alerts go to JOBAGENT_ALERT_CHANNEL, else only to the log). Stop it with
    ``scheduler.shutdown()``."""
    from apscheduler.schedulers.background import BackgroundScheduler

    monitor = Monitor(settings, post_alert or log_only, options)
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    extra = {"next_run_time": datetime.now(UTC)} if run_now else {}
    scheduler.add_job(
        monitor.safe_tick,
        "interval",
        minutes=interval_minutes(settings, interval),
        id=JOB_ID,
        name="jobagent evaluation monitor",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=600,
        **extra,
    )
    scheduler.start()
    return scheduler
