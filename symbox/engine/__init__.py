"""The pure core: runs, permissions, inputs, grants and the expiry schedule; nothing here awaits.

Every function takes ``now`` and returns decisions or new values. May import only
``symbox.config``: no store, adapter, strategy, clock or logging.
"""
