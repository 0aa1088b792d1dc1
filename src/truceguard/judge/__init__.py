"""Judging what was observed: fusion of observations into incidents, confidence grading,
agreement terms and adjudication of incidents against them.

Every function here is a plain function over plain data (numpy arrays, dicts, dataclasses);
the store and the CLI call them, they never call the store or the CLI.
"""
