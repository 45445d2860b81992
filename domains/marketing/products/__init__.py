"""Python implementations of the marketing domain's products."""
