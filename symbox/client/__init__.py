"""The terminal client: ``symbox request``, ``pending``, ``grants``... against a running server.

An adapter that speaks only HTTP to a symbox server. May import: ``config``, ``engine``
(the names of statuses) and the shared top-level modules.
"""
