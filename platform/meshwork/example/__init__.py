"""The example e-commerce company that ships with Meshwork (source data generator)."""
