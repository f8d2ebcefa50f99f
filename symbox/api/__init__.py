"""The Events API: Starlette routes over the run service.

An adapter: it turns HTTP into calls of ``symbox.runs`` and their results into JSON.
May import: ``config``, ``engine``, ``runs``, ``store`` (token lookups and reads) and the
shared top-level modules; never another adapter (``slack``, ``client``).
"""
