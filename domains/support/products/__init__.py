"""Python implementations of the support domain's products."""
