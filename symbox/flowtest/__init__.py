"""``symbox test``: policy tests for flows, run through the real service and sandbox.

May import: ``config``, ``engine``, ``runs``, ``store``, ``sandbox``, ``flowhooks``,
``strategies``, ``audit`` and the shared top-level modules; it builds its own service,
not through ``symbox.app``.
"""
