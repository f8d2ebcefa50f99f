"""A flow's hooks as the run service calls them: events, forms, integrations, checks, reports.

Owns: building each hook's event and calling it through the sandbox (``calls``), forms
shaped by ``prefetch`` and ``on_change`` (``forms``), the integrations a hook's
environment gives it (``integrations``), what can be known of a hook file before it
runs (``checks``) and the audit records of hook incidents (``reports``).

May import: ``config``, ``engine``, ``sandbox``, ``audit`` and the shared top-level
modules; never ``store``, ``runs`` or an adapter.
"""
