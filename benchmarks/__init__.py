"""Benchmarks of ambdiff against kubectl on a real local API server (`nox -s bench`).

generate.py writes realistic GitOps repositories of N objects and the live drift to put on
them; measure.py runs one command and measures it; run.py drives a whole run; report.py
writes the tables of docs/performance.md. Not part of the ambdiff package.
"""
