"""Implementations of the stmocap subcommands (one module per group)."""
