"""The ``workbench`` command: ``demo``, ``report daily`` and ``runbook``.

Exit codes: 0 report written; 2 bad input (unknown source, bad date or day count, missing data,
a bad alert sink, a runbook file or its PromQL wrong, a source's environment variables missing
or malformed: one line on stderr names it, before any kernel starts); 1 the report failed to
execute or render, or ran past its budget; 3 the report was written but is degraded (a source
failed, or alerts were spooled, rejected or dropped: the HTML says which); 128+N the run was
stopped by signal N (143 for a scheduler's SIGTERM) and published nothing. The HTML path is
always stdout's last line when a report was written.

Credentials are never arguments: ``--source langfuse`` reads ``LANGFUSE_PUBLIC_KEY``,
``LANGFUSE_SECRET_KEY`` and ``LANGFUSE_BASE_URL``; ``PROMETHEUS_URL`` (with its optional
``PROMETHEUS_*`` settings) adds the report's Prometheus section. The notebook's kernel inherits
them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import ConfigError, WorkbenchError

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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="workbench", description="Incident workbench for LLM apps and agents.",
        epilog="exit codes: 0 ok, 1 report failed, 2 bad input, 3 report degraded (a source "
               "failed, or alerts spooled/rejected), 143 stopped by SIGTERM. "
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
                       help="trace source: local (reads --data) or langfuse (reads "
                            "LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_BASE_URL) "
                            "(default: local)")
    daily.add_argument("--data", default="data/demo",
                       help="data folder of the local source (default: data/demo)")
    daily.add_argument("--alert-days", type=_day_count, default=1,
                       help="findings touching the last N days raise alerts (default: 1)")
    _report_args(daily, default_days=7)

    runbook = sub.add_parser("runbook", help="render a runbook notebook over an incident window")
    runbook.add_argument("name", help="runbook name, e.g. cost_spike (a file in runbooks/)")
    runbook.add_argument("--start", required=True, help="window start, ISO-8601 (UTC if naive)")
    runbook.add_argument("--end", required=True, help="window end, ISO-8601 (UTC if naive)")
    runbook.add_argument("--source", default="local", help="trace source (default: local)")
    runbook.add_argument("--data", default="data/demo",
                         help="data folder of the local source (default: data/demo)")
    runbook.add_argument("--baseline-days", type=_positive, default=7,
                         help="days before the window that form the baseline (default: 7)")
    runbook.add_argument("--out", default="out", help="output folder (default: out)")
    return parser


def _budget(args: argparse.Namespace) -> float:
    from workbench.reports.runner import DEFAULT_BUDGET_S

    return args.budget or DEFAULT_BUDGET_S


def _check_alerting(args: argparse.Namespace, out: str) -> None:
    """The alert sink (and the credentials it reads) before any kernel starts."""
    from workbench.reports.inputs import check_sink

    if not args.no_alerts:
        check_sink(args.alerts or os.environ.get("WORKBENCH_ALERTS_URL")
                   or str(Path(out) / "alerts.jsonl"))


def _check_runbooks() -> None:
    from workbench.reports.inputs import check_promql, check_runbooks

    check_promql(check_runbooks())


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
                        budget_s=_budget(args))


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
                        send_alerts=not args.no_alerts, budget_s=_budget(args))


def _runbook(args: argparse.Namespace) -> int:
    from workbench.reports.daily import check_sources
    from workbench.reports.runbook import run_runbook

    data = args.data if args.source == "local" else None
    check_sources(args.source, data)
    _check_runbooks()
    html = run_runbook(args.name, args.start, args.end, args.source, data, args.out,
                       baseline_days=args.baseline_days)
    print(html)
    return EXIT_OK


def _report_exit(result) -> int:
    s = result.summary
    firing = [f for f in s.get("findings", []) if f.get("status") == "firing"]
    alerts = s.get("alerts", {})
    counts = ", ".join(f"{k}: {len(alerts.get(k) or [])}" for k in
                       ("sent", "spooled", "rejected", "dropped") if k == "sent"
                       or alerts.get(k))
    print(f"findings: {len(firing)} firing; alerts {counts}; summary: {result.summary_path}")
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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, one line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    from workbench.reports.execute import RunInterrupted

    try:
        if args.command == "runbook":
            return _runbook(args)
        result = _demo(args) if args.command == "demo" else _daily(args)
    except ConfigError as exc:
        print(f"workbench: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RunInterrupted as exc:
        print(f"workbench: {_one_line(exc)}", file=sys.stderr)
        return 128 + exc.signum
    except WorkbenchError as exc:
        print(f"workbench: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    return _report_exit(result)


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
