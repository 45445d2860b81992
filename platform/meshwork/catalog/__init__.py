"""The mesh catalog: a static HTML site and ``catalog.json`` built from the descriptors and run
history (``site``, ``export``, ``render``, ``charts``, ``templates/``), and the mesh metrics
(``metrics`` computes them, ``metric_history`` keeps their values).

Imports: ``runtime`` and below; independent of ``authoring`` and ``example``.
"""
