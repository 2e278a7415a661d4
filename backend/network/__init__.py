"""Security groups, key pairs, NoCloud seeds and bridge networks."""
