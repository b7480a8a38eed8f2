"""In-process contract doubles of the backends workbench talks to (reached through real clients)."""

from .canonical_sample import sample_frames, simulated
from .langfuse_double import LangfuseDouble, RequestRecord
from .tempo_double import TempoDouble

__all__ = ["LangfuseDouble", "RequestRecord", "TempoDouble", "sample_frames", "simulated"]
