"""The pure core: runs, permissions, inputs, grants and the expiry schedule; nothing here awaits."""
