"""Example and reproduction configs, shipped with the package as ``statmech_bn.data`` (TOML files only)."""
