"""The ``workbench`` command: ``demo``, ``report daily``, ``runbook``, ``postmortem``, ``check``
and ``schedule``.

Exit codes: 0 report written; 2 bad input (unknown source, bad date or day count, missing data,
a bad alert sink, a runbook file or its PromQL wrong, a source's environment variables missing
or malformed: one line on stderr names it, before any kernel starts; an agent without traces,
which the notebook finds); 1 the report failed to
execute or render, or ran past its budget; 3 the report was written but is degraded (a source
failed, or alerts were spooled, rejected or dropped: the HTML says which; a runbook or
post-mortem window was judged on incomplete data, a partial pull, no traces or no baseline: its
``<stem>.summary.json`` says which under ``problems``); 128+N the run was
stopped by signal N (143 for a scheduler's SIGTERM) and published nothing. The HTML path is
always stdout's last line when a report was written.

Credentials are never arguments: ``--source langfuse`` reads ``LANGFUSE_PUBLIC_KEY``,
``LANGFUSE_SECRET_KEY`` and ``LANGFUSE_BASE_URL``; ``--source tempo`` reads ``TEMPO_URL`` (with
``TEMPO_USERNAME``/``TEMPO_PASSWORD`` or ``TEMPO_TOKEN``, ``TEMPO_HEADERS``, ``TEMPO_ORG_ID``);
``PROMETHEUS_URL`` (with its optional ``PROMETHEUS_*`` settings) adds the report's Prometheus
section. The notebook's kernel inherits them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import ConfigError, ReportError, WorkbenchError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DEGRADED = 0, 1, 2, 3
#: Longest window in days (kept in step with workbench.reports.inputs.MAX_DAYS).
_MAX_DAYS = 366


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return n


def _day_count(text: str) -> int:
    n = _positive(text)
    if n > _MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {_MAX_DAYS} days")
    return n


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 1 and 86400 seconds")
    return value


def _duration(text: str):
    """``15m``, ``3h``, ``1d`` (the runbooks' duration syntax) as a timedelta."""
    import re

    m = re.match(r"^(\d+)(s|m|h|d|w)$", text.strip())
    if not m or int(m.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 15m, 3h or 1d")
    import datetime as dt

    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    return dt.timedelta(**{unit[m.group(2)]: int(m.group(1))})


def _heartbeat_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--heartbeat", type=_duration, default=None, metavar="EVERY",
                   help="post the WorkbenchWatchdog alert to the Alertmanager sink, due again "
                        "after EVERY plus --heartbeat-grace (a dead-man's switch for schedules)")
    p.add_argument("--heartbeat-grace", type=_duration, default=None, metavar="GRACE",
                   help="slack after the next expected run (default: the budget plus 5m)")
    p.add_argument("--job", default=None, help="the heartbeat's job label (default: command)")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2 (not the usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"workbench: error: {message}\n")


def _report_args(p: argparse.ArgumentParser, default_days: int | None) -> None:
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--days", type=_day_count, default=default_days,
                   help="days of context ending on the report day (default: "
                        f"{default_days or 'every day of the demo store'})")
    p.add_argument("--alerts", metavar="URL", default=None,
                   help="alert sink: a path or file:// URL, alertmanager+http(s)://host:port, "
                        "http(s):// webhook or slack+https:// (default: <out>/alerts.jsonl)")
    p.add_argument("--no-alerts", action="store_true", help="compute findings, send no alerts")
    p.add_argument("--budget", type=_seconds, default=None, metavar="SECONDS",
                   help="wall-clock budget of the whole run, every network wait included "
                        "(default: 1200 s, below common scheduler time-outs)")
    _heartbeat_args(p)
    _redact_arg(p)


def _redact_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-redact", action="store_true",
                   help="keep secrets and personal data (API keys, e-mails, phone numbers, ...) "
                        "in the HTML, summary and notebook: redaction is on by default")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workbench", description="Incident workbench for LLM apps and agents.",
        epilog="exit codes: 0 ok, 1 report failed, 2 bad input, 3 report degraded (a source "
               "failed, or alerts spooled/rejected; a runbook or post-mortem judged on "
               "incomplete data: its summary JSON says why), 143 stopped by SIGTERM. "
               "Set PROMETHEUS_URL to add the Prometheus metrics section to reports.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="generate the demo data if missing and run its report")
    demo.add_argument("--data", default="data/demo", help="demo data folder (default: data/demo)")
    demo.add_argument("--traces-per-day", type=_positive,
                      default=os.environ.get("WORKBENCH_DEMO_TRACES_PER_DAY"),
                      help="size of a newly generated demo dataset "
                           "(env WORKBENCH_DEMO_TRACES_PER_DAY; default: the simulator's)")
    _report_args(demo, default_days=None)

    report = sub.add_parser("report", help="run a report")
    kinds = report.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    daily = kinds.add_parser("daily", help="the daily report for one UTC day")
    daily.add_argument("--date", required=True,
                       help="report day: YYYY-MM-DD, today or yesterday (UTC)")
    daily.add_argument("--source", default="local",
                       help="trace source: local (reads --data), langfuse (reads "
                            "LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_BASE_URL) or "
                            "tempo (reads TEMPO_URL and the optional TEMPO_* settings) "
                            "(default: local)")
    daily.add_argument("--data", default="data/demo",
                       help="data folder of the local source (default: data/demo)")
    daily.add_argument("--alert-days", type=_day_count, default=1,
                       help="findings touching the last N days raise alerts (default: 1)")
    _report_args(daily, default_days=7)

    runbook = sub.add_parser("runbook", help="render a runbook notebook over an incident "
                                             "window: HTML and summary JSON under one name")
    runbook.add_argument("name", help="runbook name, e.g. cost_spike (a file in runbooks/)")
    runbook.add_argument("--start", required=True, help="window start, ISO-8601 (UTC if naive)")
    runbook.add_argument("--end", required=True, help="window end, ISO-8601 (UTC if naive)")
    runbook.add_argument("--source", default="local",
                         help="trace source: local, langfuse or tempo (default: local)")
    runbook.add_argument("--data", default="data/demo",
                         help="data folder of the local source (default: data/demo)")
    runbook.add_argument("--agent", default=None,
                         help="investigate one agent (default: all traffic)")
    runbook.add_argument("--out", default="out", help="output folder (default: out)")
    runbook.add_argument("--budget", type=_seconds, default=None, metavar="SECONDS",
                         help="wall-clock budget of the whole run (default: 1200 s)")
    _redact_arg(runbook)

    pm = sub.add_parser("postmortem", help="write the post-mortem of an incident window: "
                                           "HTML, Markdown and summary JSON under one name")
    pm.add_argument("--runbook", required=True, help="runbook judging the incident, e.g. "
                                                     "cost_spike (a file in runbooks/)")
    pm.add_argument("--start", required=True, help="window start, ISO-8601 (UTC if naive)")
    pm.add_argument("--end", required=True, help="window end, ISO-8601 (UTC if naive)")
    pm.add_argument("--source", default="local",
                    help="trace source: local, langfuse or tempo (default: local)")
    pm.add_argument("--data", default="data/demo",
                    help="data folder of the local source (default: data/demo)")
    pm.add_argument("--agent", default=None,
                    help="the agent of the incident (default: the one its findings name, "
                         "else all traffic)")
    pm.add_argument("--notes", default=None, metavar="FILE",
                    help="YAML of what people write: title, status, summary, "
                         "contributing_factors, went_well, went_badly, action_items")
    pm.add_argument("--out", default="out", help="output folder (default: out)")
    pm.add_argument("--budget", type=_seconds, default=None, metavar="SECONDS",
                    help="wall-clock budget of the whole run (default: 1200 s)")
    _redact_arg(pm)

    check = sub.add_parser("check", help="detectors over the recent window, alerts sent, no "
                                         "notebook: for a schedule every few minutes")
    check.add_argument("--since", type=_duration, default=None, required=True,
                       help="window to judge, ending now: e.g. 3h")
    check.add_argument("--at", default=None,
                       help="judge the window ending here instead of now (ISO-8601, UTC if "
                            "naive): replays of past data, the demo")
    check.add_argument("--source", default="local", help="trace source (default: local)")
    check.add_argument("--data", default="data/demo",
                       help="data folder of the local source (default: data/demo)")
    check.add_argument("--alerts", metavar="URL", default=None,
                       help="alert sink (default: $WORKBENCH_ALERTS_URL, else "
                            "<cache>/check-alerts.jsonl)")
    check.add_argument("--no-alerts", action="store_true", help="detect, send nothing")
    check.add_argument("--budget", type=_seconds, default=None, metavar="SECONDS",
                       help="wall-clock budget of the whole check (default: 240 s)")
    _heartbeat_args(check)

    sched = sub.add_parser("schedule", help="install, list or remove cron entries (and print "
                                            "the equivalent systemd timer units)")
    actions = sched.add_subparsers(dest="action", required=True, parser_class=_Parser)
    install = actions.add_parser("install", help="add or replace a scheduled job")
    install.add_argument("what", choices=["check", "daily"],
                         help="check: detectors every --every; daily: the report --at HH:MM")
    install.add_argument("--name", default=None, help="entry name (default: the kind)")
    install.add_argument("--every", type=_duration, default=None,
                         help="cadence of a check, e.g. 5m, 15m, 1h")
    install.add_argument("--at", default=None, help="time of day of a daily report, HH:MM "
                                                    "(in the cron daemon's time zone)")
    install.add_argument("--since", type=_duration, default=None,
                         help="window a check judges (default: 3h)")
    install.add_argument("--source", default="local")
    install.add_argument("--data", default="data/demo")
    install.add_argument("--out", default="out", help="report folder (daily)")
    install.add_argument("--days", type=_day_count, default=7, help="report days (daily)")
    install.add_argument("--alerts", metavar="URL", default=None,
                         help="alert sink; one with a secret in its URL goes in --env-file "
                              "as WORKBENCH_ALERTS_URL, never in the crontab")
    install.add_argument("--env-file", default=None,
                         help="file of VAR=value lines (mode 0600) sourced before each run")
    install.add_argument("--workdir", default=None, help="folder runs start in (default: .)")
    install.add_argument("--no-heartbeat", action="store_true",
                         help="no watchdog alert even with an Alertmanager sink")
    install.add_argument("--crontab", default=None, metavar="FILE",
                         help="write this crontab file instead of the user's crontab")
    listing = actions.add_parser("list", help="the workbench entries in the crontab")
    listing.add_argument("--crontab", default=None, metavar="FILE")
    rm = actions.add_parser("remove", help="remove a workbench entry")
    rm.add_argument("name")
    rm.add_argument("--crontab", default=None, metavar="FILE")
    return parser


def _budget(args: argparse.Namespace) -> float:
    from workbench.reports.runner import DEFAULT_BUDGET_S

    return args.budget or DEFAULT_BUDGET_S


def _check_alerting(args: argparse.Namespace, out: str) -> None:
    """The alert sink (and the credentials it reads) before any kernel starts."""
    from workbench.reports.inputs import check_sink

    sink = None if args.no_alerts else _sink_of(args, str(Path(out) / "alerts.jsonl"))
    if sink is not None:
        check_sink(sink)
    _check_heartbeat(args, sink)


def _check_runbooks() -> None:
    from workbench.links import check_urls
    from workbench.reports.inputs import check_promql, check_runbooks

    check_promql(check_runbooks())
    check_urls()  # the runbook and report URLs that alerts and reports carry


def _demo(args: argparse.Namespace):
    from workbench.reports import daily_report
    from workbench.reports.demo import demo_days, ensure_demo_data

    _check_alerting(args, args.out)
    _check_runbooks()
    root = ensure_demo_data(args.data, traces_per_day=args.traces_per_day)
    first, last = demo_days(root)
    days = args.days or (last - first).days + 1
    # Nothing in the demo has been reported before, so every incident in its window is news:
    # alert on the whole window, not only on its last day.
    return daily_report(last, "local", root, args.out, days=days, alert_days=days,
                        alerts_url=args.alerts, send_alerts=not args.no_alerts,
                        redact=not args.no_redact, budget_s=_budget(args))


def _daily(args: argparse.Namespace):
    from workbench.reports import daily_report
    from workbench.reports.daily import check_sources
    from workbench.reports.inputs import check_day, check_days

    day = check_day(args.date)
    check_days(args.days, args.alert_days)
    data = args.data if args.source == "local" else None  # other sources read env vars
    check_sources(args.source, data)  # bad configuration is exit 2, before a kernel starts
    _check_alerting(args, args.out)
    _check_runbooks()
    return daily_report(day, args.source, data, args.out, days=args.days,
                        alert_days=args.alert_days, alerts_url=args.alerts,
                        send_alerts=not args.no_alerts, redact=not args.no_redact,
                        budget_s=_budget(args))


def _runbook(args: argparse.Namespace) -> int:
    from workbench.reports.daily import check_sources
    from workbench.reports.document import fmt_value
    from workbench.reports.runbook import run_runbook, summary_path_of
    from workbench.reports.summary import read_summary

    data = args.data if args.source == "local" else None
    check_sources(args.source, data)
    _check_runbooks()
    html = run_runbook(args.name, args.start, args.end, args.source, data, args.out,
                       agent=args.agent, redact=not args.no_redact, budget_s=_budget(args))
    path = summary_path_of(html)
    s = read_summary(path)
    primary = s.get("primary") or {}
    unit = str(primary.get("unit") or "")
    top = f"; top suspect: {_one_line(s['top_suspect'])}" if s.get("top_suspect") else ""
    # the figures' scope: the finding's agent and hours, or the whole window
    scope = f" {_one_line(primary['scope'])}:" if primary.get("scope") else ""
    print(f"{s.get('runbook')}: severity {s.get('verdict')}; {primary.get('signal')}{scope} "
          f"{fmt_value(primary.get('observed'), unit)} against "
          f"{fmt_value(primary.get('expected'), unit)} "
          f"expected; firing: {', '.join(s.get('firing') or []) or 'none'}{top}; "
          f"summary: {path}")
    for problem in s.get("problems") or []:
        print(f"workbench: warning: runbook on incomplete data: {_one_line(problem)}",
              file=sys.stderr)
    print(html)
    return EXIT_DEGRADED if s.get("degraded") else EXIT_OK


def _postmortem(args: argparse.Namespace) -> int:
    from workbench.reports.daily import check_sources
    from workbench.reports.runner import postmortem_report

    data = args.data if args.source == "local" else None
    check_sources(args.source, data)
    _check_runbooks()
    result = postmortem_report(args.runbook, args.start, args.end, args.source, data, args.out,
                               agent=args.agent, notes=args.notes, redact=not args.no_redact,
                               budget_s=_budget(args))
    s = result.summary
    times = ", ".join(f"{e['event'].lower()} {e['utc'] or '–'}" for e in s.get("timeline", []))
    print(f"post-mortem: {_one_line(s.get('title'))} ({s.get('state')}); {times} UTC")
    print(f"markdown: {result.extra['markdown']}; summary: {result.summary_path}")
    for problem in s.get("problems") or []:
        print(f"workbench: warning: post-mortem on incomplete data: {_one_line(problem)}",
              file=sys.stderr)
    print(Path(result.html))
    return EXIT_DEGRADED if s.get("degraded") else EXIT_OK


def _report_exit(result) -> int:
    s = result.summary
    firing = [f for f in s.get("findings", []) if f.get("status") == "firing"]
    alerts = s.get("alerts", {})
    counts = ", ".join(f"{label}: {len(alerts.get(k) or [])}" for k, label in
                       (("sent", "sent"), ("skipped", "already sent by an earlier run"),
                        ("spooled", "spooled"), ("rejected", "rejected"),
                        ("dropped", "dropped")) if k == "sent" or alerts.get(k))
    unjudged = s.get("not_judged") or []
    said = f"; not judged (too little data): {', '.join(unjudged)}" if unjudged else ""
    if thin := (s.get("too_little_traffic") or {}).get("note"):
        said += f"; {thin}"
    print(f"findings: {len(firing)} firing{said}; alerts {counts}; summary: "
          f"{result.summary_path}")
    for err in alerts.get("errors", []):
        print(f"workbench: warning: {_one_line(err)}", file=sys.stderr)
    if s.get("degraded"):
        failed = s.get("degraded_sources") or [s["source"]]
        for src in failed:
            print(f"workbench: warning: report degraded: source {src.get('name')!r} failed: "
                  f"{_one_line(str(src.get('reason')))}", file=sys.stderr)
    for problem in alerts.get("problems") or []:
        print(f"workbench: warning: alerts: {problem}", file=sys.stderr)
    print(Path(result.html))
    return EXIT_DEGRADED if result.degraded else EXIT_OK


#: Default budget of one check: below a 5-minute schedule.
CHECK_BUDGET_S = 240.0


def _sink_of(args: argparse.Namespace, default: str) -> str:
    return args.alerts or os.environ.get("WORKBENCH_ALERTS_URL") or default


def _check_heartbeat(args: argparse.Namespace, sink: str | None) -> None:
    if args.heartbeat is None:
        return
    if sink is None or not sink.startswith(("alertmanager+http://", "alertmanager+https://")):
        raise ConfigError("--heartbeat needs an Alertmanager sink (--alerts alertmanager+http(s)"
                          "://...): only Alertmanager lets the watchdog expire when runs stop")


def _heartbeat(args: argparse.Namespace, sink: str, job: str, budget_s: float) -> str | None:
    """Post the watchdog; a warning line when it could not be posted."""
    import datetime as dt

    from workbench.alerts.heartbeat import send_heartbeat
    from workbench.deadline import Deadline

    grace = args.heartbeat_grace or dt.timedelta(seconds=budget_s, minutes=5)
    try:
        send_heartbeat(sink, args.job or job, args.heartbeat, grace,
                       deadline=Deadline.after(30))
    except WorkbenchError as exc:
        return _one_line(exc)
    return None


def _check(args: argparse.Namespace) -> int:
    import pandas as pd

    from workbench.alerts.check import run_check
    from workbench.analysis.detect import thin_note
    from workbench.deadline import Deadline
    from workbench.reports.daily import check_sources
    from workbench.reports.inputs import check_sink
    from workbench.settings import cache_dir
    from workbench.sources import to_utc

    since = pd.Timedelta(args.since)
    if not pd.Timedelta(minutes=5) <= since <= pd.Timedelta(days=7):
        raise ConfigError(f"--since {args.since} must be between 5m and 7d")
    at = None
    if args.at is not None:
        try:
            at = to_utc(args.at)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConfigError(f"--at {args.at!r} is not a time: {exc}") from exc
        if pd.isna(at) or at > pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=1):
            raise ConfigError(f"--at {args.at!r} is not a time up to now")
    data = args.data if args.source == "local" else None
    check_sources(args.source, data)
    sink = None if args.no_alerts else _sink_of(args, str(cache_dir("check-alerts.jsonl")))
    if sink is not None:
        check_sink(sink)
    _check_heartbeat(args, sink)
    _check_runbooks()
    budget = args.budget or CHECK_BUDGET_S
    result = run_check(since, at=at, source=args.source, data_dir=data, sink=sink,
                       deadline=Deadline.after(budget))
    for f in result.firing:
        unconfirmed = "" if f.confirmed else " (unconfirmed: partial data, not alerted)"
        print(f"[{f.severity}] {f.runbook}.{f.signal} {f.start:%Y-%m-%d %H:%M}-{f.end:%H:%M}"
              f"{unconfirmed}: {_one_line(f.summary)}")
    d = result.delivery
    sent = (f"alerts sent: {len(d.sent)}, spooled: {len(d.spooled)}"
            + (f", already sent by an earlier run: {len(d.skipped)}" if d.skipped else "")
            if d else "alerts off")
    print(f"check {result.start:%Y-%m-%d %H:%M}-{result.end:%H:%M} UTC: {result.traces} traces, "
          f"{len(result.firing)} firing; {sent}")
    # nothing firing is no all-clear where the window could not show a change
    for f in result.not_judged:
        print(f"not judged: {f.runbook}: {_one_line(f.summary)}")
    if thin := thin_note(result.thin, str):
        print(thin)
    if result.set_aside:
        print(result.set_aside)
    if result.settled:
        print(result.settled)
    for problem in result.problems + (d.problems() if d else []) + (d.errors if d else []):
        print(f"workbench: warning: {_one_line(problem)}", file=sys.stderr)
    degraded = result.degraded
    if args.heartbeat is not None and sink is not None:
        if (warning := _heartbeat(args, sink, "check", budget)) is not None:
            print(f"workbench: warning: {warning}", file=sys.stderr)
            degraded = True
    return EXIT_DEGRADED if degraded else EXIT_OK


def _schedule(args: argparse.Namespace) -> int:
    import datetime as dt

    from workbench import schedule

    if args.action == "list":
        for name, line in schedule.entries(args.crontab).items():
            print(f"{name}: {line}")
        return EXIT_OK
    if args.action == "remove":
        if not schedule.remove(args.name, args.crontab):
            raise ConfigError(f"no workbench entry named {args.name!r} in the crontab")
        print(f"removed {args.name}")
        return EXIT_OK
    name = args.name or args.what
    source = ["--source", args.source] + (["--data", str(Path(args.data).resolve())]
                                          if args.source == "local" else [])
    alerts = ["--alerts", args.alerts] if args.alerts else []
    am = (args.alerts or "").startswith(("alertmanager+http://", "alertmanager+https://"))
    if args.what == "check":
        if args.every is None or args.at is not None:
            raise ConfigError("schedule install check needs --every (e.g. 15m), not --at")
        budget = min(CHECK_BUDGET_S, args.every.total_seconds() * 0.8)
        since = args.since or dt.timedelta(hours=3)
        argv = ["check", "--since", _fmt(since), *source, *alerts, "--budget", f"{budget:g}"]
        spec = schedule.Schedule(name=name, argv=tuple(argv), every=args.every,
                                 budget_s=budget)
    else:
        if args.at is None or args.every is not None:
            raise ConfigError("schedule install daily needs --at HH:MM, not --every")
        from workbench.reports.runner import DEFAULT_BUDGET_S

        budget = DEFAULT_BUDGET_S
        argv = ["report", "daily", "--date", "yesterday", *source, "--out",
                str(Path(args.out).resolve()), "--days", str(args.days), *alerts]
        spec = schedule.Schedule(name=name, argv=tuple(argv), at=args.at, budget_s=budget)
    if am and not args.no_heartbeat:
        spec = schedule.Schedule(name=spec.name, every=spec.every, at=spec.at,
                                 budget_s=spec.budget_s,
                                 argv=(*spec.argv, "--heartbeat", _fmt(spec.interval),
                                       "--job", name))
    schedule.cron_for(spec.every, spec.at)  # a cadence cron cannot express is bad input
    line = schedule.install(spec, crontab=args.crontab, env_file=args.env_file,
                            workdir=args.workdir)
    print(f"installed {name}: {line}")
    print("\n# The same job as systemd units (save them under /etc/systemd/system/, then "
          f"`systemctl enable --now workbench-{name}.timer`):")
    for file, text in schedule.systemd_units(spec, env_file=args.env_file,
                                             workdir=args.workdir).items():
        print(f"\n# --- {file} ---\n{text}", end="")
    return EXIT_OK


def _fmt(delta) -> str:
    """A timedelta in the CLI's duration syntax (``90m`` -> ``90m``, ``1 day`` -> ``1d``)."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, one line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    from workbench.reports.execute import RunInterrupted

    try:
        if args.command == "runbook":
            return _runbook(args)
        if args.command == "postmortem":
            return _postmortem(args)
        if args.command == "check":
            return _check(args)
        if args.command == "schedule":
            return _schedule(args)
        result = _demo(args) if args.command == "demo" else _daily(args)
    except ConfigError as exc:
        print(f"workbench: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RunInterrupted as exc:
        print(f"workbench: {_one_line(exc)}", file=sys.stderr)
        return 128 + exc.signum
    except WorkbenchError as exc:
        print(f"workbench: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        # a notebook that refused its parameters (an agent without traces) is bad input too
        bad = isinstance(exc, ReportError) and exc.kernel_error == "ConfigError"
        return EXIT_BAD_INPUT if bad else EXIT_FAILED
    code = _report_exit(result)
    if args.heartbeat is not None:
        sink = _sink_of(args, str(Path(args.out) / "alerts.jsonl"))
        job = "daily-report" if args.command == "report" else "demo"
        if (warning := _heartbeat(args, sink, job, _budget(args))) is not None:
            print(f"workbench: warning: {warning}", file=sys.stderr)
            code = EXIT_DEGRADED
    return code


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
