"""Compatibility with the original package layout (``smallpond.logical.udf``)."""
