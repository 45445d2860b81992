"""The marketing domain."""
