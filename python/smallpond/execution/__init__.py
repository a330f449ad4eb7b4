"""The original smallpond's ``smallpond.execution`` package (``driver``, ``task``)."""
