"""Package data of ``envs``: the project's instruction sentences (YAML)."""
