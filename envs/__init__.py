"""CALVIN as Gymnasium environments: the embedded play table and the real-CALVIN adapter."""
