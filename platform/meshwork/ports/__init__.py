"""Output ports as a product's promise: publish (validate against each port's contract, then write an
immutable snapshot), read (the port reader: resolve the version, check the declaration and the grant,
audit the read) and mask (classified columns for consumers without clearance).

Imports: ``storage``, ``quality``, ``model``, ``core``.
"""
