"""Package data of ``evaluation``: the frozen default chain list (CALVIN's 1000 chains, seed 0)."""
