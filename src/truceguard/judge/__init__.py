"""Judging what was observed: fusion of observations into incidents, confidence grading,
agreement terms and adjudication of incidents against them.

Every function here is a plain function over plain data (numpy arrays, dicts, dataclasses);
the store and the CLI call them, they never call the store or the CLI.
"""

from truceguard.judge.adjudicate import Adjudication, adjudicate, place
from truceguard.judge.fusion import FusionParams, cluster_labels, fuse_arrays, fuse_incremental
from truceguard.judge.grading import GradingRules, load_grading
from truceguard.judge.places import describe_locations
from truceguard.judge.terms import Terms, load_terms, parse_terms, shipped_terms

__all__ = [
    "Adjudication",
    "FusionParams",
    "GradingRules",
    "Terms",
    "adjudicate",
    "cluster_labels",
    "describe_locations",
    "fuse_arrays",
    "fuse_incremental",
    "load_grading",
    "load_terms",
    "parse_terms",
    "place",
    "shipped_terms",
]
