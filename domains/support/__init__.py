"""The support domain."""
