"""Ready-made nodes of the original smallpond (``copy_table``, ``log_dataset``)."""
