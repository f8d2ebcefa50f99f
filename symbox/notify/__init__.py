"""Request notifications beyond Slack: webhooks and email, delivered from a durable outbox.

Owns: which events tell whom (``plan``), the queued message's shape (``model``), and
delivering the store's notification outbox. May import: ``config``, ``engine``,
``store``, ``audit`` and the shared top-level modules; never ``runs`` or an adapter.
"""
