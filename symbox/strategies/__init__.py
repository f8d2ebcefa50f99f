"""Access strategies: how a grant is made and taken away at a target system.

Owns: each strategy type, building them from the config (``build``), identities in
target systems, and the REST plumbing they share. May import: ``config``, ``engine``,
``aws``, ``sandbox`` (custom strategies run there), ``audit.entry`` (redaction) and
the shared top-level modules; never ``store``, ``runs`` or an adapter.
"""
