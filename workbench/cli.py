"""The ``workbench`` command: ``demo``, ``report daily`` and ``runbook``.

Exit codes: 0 report written; 2 bad input (unknown source, bad date, missing data, a source's
environment variables missing or malformed: one line on stderr names it); 1 the report failed to
execute or render; 3 the report was written but is degraded (a source failed: the trace source or
Prometheus). The HTML path is always stdout's last line when a report was written.

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

from workbench.errors import ConfigError, WorkbenchError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DEGRADED = 0, 1, 2, 3


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return n


def _report_args(p: argparse.ArgumentParser, default_days: int | None) -> None:
    p.add_argument("--out", default="out", help="output folder (default: out)")
    p.add_argument("--days", type=_positive, default=default_days,
                   help="days of context ending on the report day (default: "
                        f"{default_days or 'every day of the demo store'})")
    p.add_argument("--alerts", metavar="URL", default=None,
                   help="alert sink: a path or file:// URL, alertmanager+http(s)://host:port, "
                        "http(s):// webhook or slack+https:// (default: <out>/alerts.jsonl)")
    p.add_argument("--no-alerts", action="store_true", help="compute findings, send no alerts")
    _redact_arg(p)


def _redact_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-redact", action="store_true",
                   help="keep secrets and personal data (API keys, e-mails, phone numbers, ...) "
                        "in the HTML, summary and notebook: redaction is on by default")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench", description="Incident workbench for LLM apps and agents.",
        epilog="exit codes: 0 ok, 1 report failed, 2 bad input, 3 report degraded. "
               "Set PROMETHEUS_URL to add the Prometheus metrics section to reports.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate the demo data if missing and run its report")
    demo.add_argument("--data", default="data/demo", help="demo data folder (default: data/demo)")
    demo.add_argument("--traces-per-day", type=_positive,
                      default=os.environ.get("WORKBENCH_DEMO_TRACES_PER_DAY"),
                      help="size of a newly generated demo dataset "
                           "(env WORKBENCH_DEMO_TRACES_PER_DAY; default: the simulator's)")
    _report_args(demo, default_days=None)

    report = sub.add_parser("report", help="run a report")
    kinds = report.add_subparsers(dest="kind", required=True)
    daily = kinds.add_parser("daily", help="the daily report for one UTC day")
    daily.add_argument("--date", required=True, help="report day, YYYY-MM-DD (UTC)")
    daily.add_argument("--source", default="local",
                       help="trace source: local (reads --data), langfuse (reads "
                            "LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_BASE_URL) or "
                            "tempo (reads TEMPO_URL and the optional TEMPO_* settings) "
                            "(default: local)")
    daily.add_argument("--data", default="data/demo",
                       help="data folder of the local source (default: data/demo)")
    daily.add_argument("--alert-days", type=_positive, default=1,
                       help="findings touching the last N days raise alerts (default: 1)")
    _report_args(daily, default_days=7)

    runbook = sub.add_parser("runbook", help="render a runbook notebook over an incident window")
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
    _redact_arg(runbook)
    return parser


def _demo(args: argparse.Namespace):
    from workbench.reports import daily_report
    from workbench.reports.demo import demo_days, ensure_demo_data

    root = ensure_demo_data(args.data, traces_per_day=args.traces_per_day)
    first, last = demo_days(root)
    days = args.days or (last - first).days + 1
    # Nothing in the demo has been reported before, so every incident in its window is news:
    # alert on the whole window, not only on its last day.
    return daily_report(last, "local", root, args.out, days=days, alert_days=days,
                        alerts_url=args.alerts, send_alerts=not args.no_alerts,
                        redact=not args.no_redact)


def _daily(args: argparse.Namespace):
    from workbench.reports import daily_report
    from workbench.reports.daily import check_sources

    data = args.data if args.source == "local" else None  # other sources read env vars
    check_sources(args.source, data)  # bad configuration is exit 2, before a kernel starts
    return daily_report(args.date, args.source, data, args.out, days=args.days,
                        alert_days=args.alert_days, alerts_url=args.alerts,
                        send_alerts=not args.no_alerts, redact=not args.no_redact)


def _runbook(args: argparse.Namespace) -> int:
    from workbench.reports.daily import check_sources
    from workbench.reports.runbook import run_runbook

    data = args.data if args.source == "local" else None
    check_sources(args.source, data)
    html = run_runbook(args.name, args.start, args.end, args.source, data, args.out,
                       agent=args.agent, redact=not args.no_redact)
    print(html)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "runbook":
            return _runbook(args)
        result = _demo(args) if args.command == "demo" else _daily(args)
    except ConfigError as exc:
        print(f"workbench: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WorkbenchError as exc:
        print(f"workbench: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    s = result.summary
    firing = [f for f in s.get("findings", []) if f.get("status") == "firing"]
    alerts = s.get("alerts", {})
    print(f"findings: {len(firing)} firing; alerts sent: {len(alerts.get('sent', []))}, "
          f"spooled: {len(alerts.get('spooled', []))}; summary: {result.summary_path}")
    for err in alerts.get("errors", []):
        print(f"workbench: warning: {err}", file=sys.stderr)
    if result.degraded:
        failed = s.get("degraded_sources") or [s["source"]]
        for src in failed:
            print(f"workbench: warning: report degraded: source {src.get('name')!r} failed: "
                  f"{_one_line(str(src.get('reason')))}", file=sys.stderr)
    print(Path(result.html))
    return EXIT_DEGRADED if result.degraded else EXIT_OK


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
