"""The tree definition: YAML -> raw spec -> checked, resolved, frozen :class:`Tree`."""
