"""Grafana Tempo as a trace source, over its HTTP API.

Package map:

* ``_config``  ``TEMPO_*`` environment: URL, Basic or bearer auth, extra headers, tenant
* ``_client``  httpx under the shared deadline: time-outs, retries, budget, error translation
* ``_search``  TraceQL search: grid slices under the server's range limit, answers parsed
* ``_metrics`` TraceQL metrics (``query_range``): queries and tidy frames
* ``_cache``   the Parquet cache of closed slices
* ``_source``  :class:`TempoSource`, tying them together; OTLP decoding is
  :mod:`workbench.sources.otlp`, prices :mod:`workbench.sources.prices`
"""

from ._config import (ENV_HEADERS, ENV_ORG_ID, ENV_PASSWORD, ENV_TOKEN, ENV_URL, ENV_USERNAME,
                      ENV_VARS, ORG_HEADER)
from ._source import TempoSource

__all__ = ["ENV_HEADERS", "ENV_ORG_ID", "ENV_PASSWORD", "ENV_TOKEN", "ENV_URL", "ENV_USERNAME",
           "ENV_VARS", "ORG_HEADER", "TempoSource"]
