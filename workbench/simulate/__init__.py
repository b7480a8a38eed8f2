"""Deterministic demo data: synthetic LLM-agent traffic with labelled incidents.

Requests of three agents (``rag-agent``, ``tool-agent``, ``planner-agent``) are recorded as real
OpenTelemetry spans with the GenAI semantic conventions, converted to the canonical frames, scored
by a simulated LLM judge, and stored for the ``local`` source. Modules:

- ``catalog``: models and prices, tools, prompts, releases, base rates
- ``traffic``, ``plan``, ``timeline``: who calls what when, span trees, failures and the budget
- ``incidents``, ``inject``: the labelled incidents and how they are injected
- ``otel``: span recording and :func:`spans_to_observations`
- ``scores``: evaluation scores
- ``generator``: :func:`generate`; ``writer``: :func:`write_demo`, :func:`ensure_demo`
"""

from workbench.simulate.generator import DEFAULT_START, Dataset, generate, generate_spans
from workbench.simulate.incidents import RUNBOOKS, Incident, default_incidents
from workbench.simulate.otel import spans_to_observations
from workbench.simulate.writer import ensure_demo, write_demo

__all__ = [
    "DEFAULT_START",
    "RUNBOOKS",
    "Dataset",
    "Incident",
    "default_incidents",
    "ensure_demo",
    "generate",
    "generate_spans",
    "spans_to_observations",
    "write_demo",
]
