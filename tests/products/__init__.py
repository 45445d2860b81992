"""Tests generated with each product by `mesh new product`."""
