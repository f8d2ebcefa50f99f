"""The audit trail: record shape, hash chain, verifier, JSON-lines file and shipper.

Owns: what an audit record holds and how it is sealed (``entry``, ``chain``), reading and
verifying the trail, and shipping sealed records from the store's outbox to their
destinations (file, HTTP, Kinesis). May import: ``config``, ``engine``, ``store`` (the
outbox), ``aws`` (Kinesis) and the shared top-level modules.
"""
