"""The Dagster layer: descriptors compiled into asset and check specs, the publish gate, Python and dbt
products, schedules and automation, domain runs and the whole-mesh build, the Dagster instance and
its orphan runs, run lineage, run history, and ``testing`` (unit-test a product on sample rows).

Imports: everything below. This is the only package under ``locations`` that imports Dagster; a new
kind of product implementation or a new run-time behaviour goes here.
"""
