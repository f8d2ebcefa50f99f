"""Customer-hook sandbox: RestrictedPython policy, worker processes and the pool that runs them."""
