"""Implementations of the ``scim-bridge`` subcommands, one module each."""
