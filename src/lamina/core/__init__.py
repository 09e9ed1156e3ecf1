"""Level 0: configuration, devices, seeds, the name registry and nested-structure helpers."""
