"""A webhook receiver that does not dedupe, with scripted faults, and a sender run as a child
process (so it can be killed mid-delivery). Shared by the fault tests and ``bench/bench_faults``.

The receiver *commits* a POST -- counts each alert in it, by fingerprint -- when it sends the
last byte of its 200 answer to a client that is still connected: a client that gave up
(deadline, kill) before the answer reached it did not get an acknowledgement, so the sender
rightly sends again and the receiver must not count the abandoned attempt. That is the contract under which
"at most once" is measurable; the one window it cannot close (a sender killed after the answer
arrived and before it recorded it) is counted by the tests and the benchmark, not hidden.

Faults, one per request, taken from ``script`` in order (then ``default``):

- ``ok``: answer 200 at once;
- ``500``: answer 500 (retried by the sender);
- ``400``: answer 400 with a message (the alerts are rejected: not retried);
- ``reset``: close the connection without an answer;
- ``stall``: hold the request ``stall_s`` seconds, then answer if the client is still there;
- ``drip``: answer 200 one byte every ``drip_s`` seconds (status line and headers included).
"""

from __future__ import annotations

import collections
import json
import select
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FaultReceiver", "client_gone"]


def client_gone(sock: socket.socket) -> bool:
    """True when the peer closed or reset its end (a readable socket with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


class FaultReceiver:
    """A threaded HTTP receiver on 127.0.0.1 counting committed alerts by fingerprint."""

    def __init__(self, *, default: str = "ok", stall_s: float = 5.0, drip_s: float = 0.2,
                 port: int = 0) -> None:
        self.script: list[str] = []
        self.default = default
        self.stall_s = stall_s
        self.drip_s = drip_s
        self.counts: collections.Counter[str] = collections.Counter()
        self.requests = 0
        self.arrived = threading.Event()  # set when a request's body has been read
        self._lock = threading.Lock()
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recv._lock:
                    recv.requests += 1
                    fault = recv.script.pop(0) if recv.script else recv.default
                recv.arrived.set()
                try:
                    body = json.loads(raw)
                    prints = [a["fingerprint"] for a in body.get("alerts", [])]
                except (ValueError, KeyError, TypeError, AttributeError):
                    prints = []
                recv._answer(self, fault, prints)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def _commit(self, prints: list[str]) -> None:
        with self._lock:
            self.counts.update(prints)

    def _answer(self, handler: BaseHTTPRequestHandler, fault: str, prints: list[str]) -> None:
        sock = handler.connection
        handler.close_connection = True
        if fault == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        status = {"500": 500, "400": 400}.get(fault, 200)
        text = "ok" if status == 200 else "label team is required"
        data = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                f"Content-Type: text/plain\r\nContent-Length: {len(text)}\r\n"
                f"Connection: close\r\n\r\n{text}").encode()
        if fault == "stall":
            end = time.monotonic() + self.stall_s
            while time.monotonic() < end:
                if client_gone(sock):
                    return
                time.sleep(0.05)
        try:
            if fault == "drip":
                for i in range(len(data) - 1):
                    if client_gone(sock):
                        return
                    sock.sendall(data[i:i + 1])
                    time.sleep(self.drip_s)
                data = data[-1:]
            # The last byte goes only to a client still waiting; once it is out, the answer is
            # the client's and the delivery counts (a well-behaved client hangs up right away).
            if client_gone(sock):
                return
            if status == 200:
                self._commit(prints)
            sock.sendall(data)
        except OSError:
            return

    def duplicates(self) -> dict[str, int]:
        with self._lock:
            return {fp: n for fp, n in self.counts.items() if n > 1}

    def __enter__(self) -> FaultReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def make_alert(case: str) -> Any:
    """The alert a fault-test sender sends for ``case`` (its fingerprint depends on it alone)."""
    import pandas as pd

    from workbench.alerts import Alert
    from workbench.findings import Finding

    t0 = pd.Timestamp("2026-11-06", tz="UTC")
    return Alert.from_finding(Finding(
        runbook="cost_spike", signal="daily_cost_usd", severity="warning", start=t0,
        end=t0 + pd.Timedelta(hours=1), observed=3.0, baseline=1.0, summary="cost tripled",
        labels={"case": case}))


def _sender_main(argv: list[str]) -> int:
    """``python fault_receiver.py SPOOL SINK PREFIX N [DEADLINE_S]``: send N alerts named
    ``PREFIX-i`` to SINK through SPOOL, then print the Delivery as JSON. With N = 0, PREFIX is
    the cases themselves, separated by ``|``. SIGTERM interrupts the send the way a report's
    kernel is interrupted (KeyboardInterrupt), so its bookkeeping runs."""
    import signal

    from workbench.alerts import send
    from workbench.deadline import Deadline

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    spool, sink, spec, n = argv[0], argv[1], argv[2], int(argv[3])
    budget = float(argv[4]) if len(argv) > 4 else 30.0
    cases = [f"{spec}-{i}" for i in range(n)] if n else [c for c in spec.split("|") if c]
    alerts = [make_alert(c) for c in cases]
    started = time.monotonic()
    res = send(alerts, sink, spool=spool, deadline=Deadline.after(budget))
    out: dict[str, Any] = {k: [a["fingerprint"] for a in v] if isinstance(v, list) and v
                           and isinstance(v[0], dict) and "fingerprint" in v[0] else v
                           for k, v in res.to_dict().items()}
    out["send_seconds"] = time.monotonic() - started
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_sender_main(sys.argv[1:]))
