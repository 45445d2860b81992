"""Data quality: the validator that runs a contract's rules inside DuckDB before publish, and the
domain-defined pandera checks.

Imports: ``model`` and ``core``; independent of ``storage``. A new rule type is compiled in
``meshwork.model.rules`` and executed here.
"""
