"""Langfuse as a trace source, through the official ``langfuse`` SDK client.

Package map:

* ``_client``       SDK client construction, time-outs, retries, budget, error translation
* ``_observations`` Observations API v2: field groups, filters, cursor pages
* ``_scores``       Scores API v3
* ``_metrics``      Metrics API v2 (aggregates pushed down), plus the local fallback
* ``_legacy``       page-based endpoints of Langfuse v3 servers, detected once per base URL
* ``_slices``       parallel time slices; ``_cache`` the incremental Parquet cache
* ``_parse``        JSON items -> canonical frames, column-wise
* ``_source``       :class:`LangfuseSource`, tying them together
"""

from ._client import ENV_BASE_URL, ENV_PUBLIC_KEY, ENV_SECRET_KEY
from ._source import LangfuseSource

__all__ = ["ENV_BASE_URL", "ENV_PUBLIC_KEY", "ENV_SECRET_KEY", "LangfuseSource"]
