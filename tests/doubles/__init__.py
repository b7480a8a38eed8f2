"""In-process contract doubles of the backends workbench talks to (reached through real clients)."""

from .langfuse_double import LangfuseDouble, double_from_dataset
from .served import RequestRecord
from .sample import Sample, sample
from .tempo_double import TempoDouble

__all__ = ["LangfuseDouble", "RequestRecord", "Sample", "TempoDouble", "double_from_dataset",
           "sample"]
