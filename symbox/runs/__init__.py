"""The run service: requests, decisions, grants and revocations, driven by the pure engine.

Owns: ``RunService`` (what a request, approval, denial, extension or revocation does, in
order, with its durable record), the expiry timer and grouped revocations, reconciliation
passes, strategy calls and their per-strategy gates, per-access locks, refusal
accounting. It decides nothing itself (``symbox.engine`` does) and holds no SQL
(``symbox.store`` does).

May import: ``config``, ``engine``, ``store``, ``audit``, ``strategies``, ``sandbox``,
``flowhooks``, ``notify`` and the shared top-level modules; never an adapter (``api``,
``slack``, ``client``), ``cli`` or ``app``.
"""
