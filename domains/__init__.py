"""The example mesh's business domains; each sub-package is one Dagster code location."""
