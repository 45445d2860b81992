"""The ground every layer stands on: the one settings module (the only reader of the environment),
names and identifiers, errors that point at a file and field, DuckDB type names, YAML read within limits
and edited as text, and the hash-chained audit log.

Imports: the standard library and third-party libraries only, never another meshwork package. A
helper belongs here only if it knows nothing about domains, products or ports.
"""
