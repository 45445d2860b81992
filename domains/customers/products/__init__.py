"""Python implementations of the customers domain's products."""
