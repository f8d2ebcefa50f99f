"""The audit trail: record shape, hash chain, verifier, JSON-lines file and shipper."""
