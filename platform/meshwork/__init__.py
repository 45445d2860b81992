"""Meshwork: a data mesh platform on Dagster (descriptors, contracts, ports, quality, governance)."""
