"""Simulated LLM-agent traffic with labelled incidents, written in the public conventions.

Requests of several agents are recorded as real OpenTelemetry spans, each agent in the style of
the producer that instruments it (the Langfuse Python SDK, OpenTelemetry GenAI semantic
conventions, OpenInference, the OpenAI Agents SDK through OpenInference), mapped to the canonical
frames by the same conventions layer any OTel source uses, and scored by simulated LLM judges
named as real evaluators write them. Two profiles: ``demo`` (the embedded demo's story) and
``realistic`` (production-like volumes, seasonality and traffic mix). Modules:

- ``catalog``, ``profiles``: models and prices, tools, agents, the two profiles
- ``traffic``, ``plan``, ``timeline``: who calls what when, failures and budgets
- ``errors``: failures in the words of the library that raised them
- ``incidents``, ``inject``: the labelled incidents and how they are injected
- ``styles``: span recording per instrumentation style
- ``scores``: the judges
- ``generator``: :func:`generate`; ``writer``: :func:`write_demo`, :func:`ensure_demo`
"""

from workbench.simulate.generator import DEFAULT_START, Dataset, generate, generate_spans
from workbench.simulate.incidents import RUNBOOKS, Incident, default_incidents
from workbench.simulate.profiles import PROFILES, Profile, get_profile
from workbench.simulate.writer import ensure_demo, write_demo

__all__ = [
    "DEFAULT_START",
    "PROFILES",
    "RUNBOOKS",
    "Dataset",
    "Incident",
    "Profile",
    "default_incidents",
    "ensure_demo",
    "generate",
    "generate_spans",
    "get_profile",
    "write_demo",
]
