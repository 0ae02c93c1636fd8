"""Small helpers shared by several parts of the agent (no torch at import time)."""
