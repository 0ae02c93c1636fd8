"""CALVIN's long-horizon benchmark and single-task runner."""
