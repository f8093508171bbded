"""uma layer."""
