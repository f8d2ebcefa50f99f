"""Customer-hook sandbox: RestrictedPython policy, worker processes and the pool that runs them.

Owns: what hooks may do (``policy``, ``guards``), the worker processes and their pool,
the SDK hooks import, what hooks see of people and flows (``views``), and the
integrations hooks call (``integrations``, which reuse the strategies' REST clients).
May import: ``config``, ``engine``, ``aws``, ``strategies`` and the shared top-level
modules; never ``store``, ``runs`` or an adapter.
"""
