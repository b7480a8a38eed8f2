"""The machine-readable summary written beside every report (``<report>.summary.json``).

It is what schedulers, dashboards and tests read instead of scraping HTML: KPIs, findings (as
:meth:`Finding.to_dict`), alerts sent or spooled, the source's status and the parameters, with
anything secret-looking removed and every string redacted (:mod:`workbench.redact`) unless
redaction was turned off; ``redaction`` says whether it was on and counts what it replaced, in the
summary and in the rendered report. JSON has no NaN: missing numbers are ``null``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from workbench.errors import ReportError
from workbench.redact import redactor, tally

__all__ = ["jsonable", "read_summary", "redact_url", "safe_parameters", "write_summary"]

_SECRET_WORDS = ("secret", "password", "token", "key", "credential", "auth")


def redact_url(url: str) -> str:
    """Keep a URL's scheme and host only: webhook paths and query strings often hold tokens."""
    if "://" not in url or url.startswith("file://"):
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/..." if parts.path or parts.query else \
        f"{parts.scheme}://{host}{port}"


def safe_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters fit to publish: secret-looking names dropped, URLs redacted."""
    out = {}
    for k, v in params.items():
        if any(w in k.lower() for w in _SECRET_WORDS):
            continue
        out[k] = redact_url(v) if isinstance(v, str) else v
    return jsonable(out)


def jsonable(obj: Any) -> Any:
    """Plain JSON types: timestamps as ISO strings, NaN/Inf as None, numpy scalars unboxed."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return [jsonable(r) for r in obj.reset_index().to_dict(orient="records")]
    if isinstance(obj, (pd.Timestamp, dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_summary(path: str | Path, data: Mapping[str, Any], *, redact: bool = True) -> Path:
    """Write ``data`` as JSON atomically (a reader never sees half a summary; two writers never
    share a temporary file), mode 0640, every string redacted unless ``redact`` is False.
    ``data["redaction"]["parts"]`` (from an earlier write, or the rendered report's count) is
    kept and added to: a summary re-written after its report was rendered still counts what the
    first write replaced."""
    target = Path(path)
    previous = data.get("redaction") if isinstance(data.get("redaction"), Mapping) else {}
    parts = {k: dict(v) for k, v in (previous.get("parts") or {}).items()}
    red = redactor(redact)
    body = red.data(jsonable({k: v for k, v in data.items() if k != "redaction"}))
    mine = dict(parts.get("summary", {}).get("by_kind", {}))
    for kind, n in red.counts.items():
        mine[kind] = mine.get(kind, 0) + n
    parts["summary"] = {"by_kind": mine}
    body["redaction"] = tally(redact, parts)
    text = json.dumps(body, indent=2, sort_keys=False, allow_nan=False)
    tmp = None
    try:
        target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise ReportError(f"cannot write summary {target}: {exc.strerror}") from exc
    return target


def read_summary(path: str | Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read summary {path}: {exc}") from exc
