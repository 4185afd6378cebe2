"""The command line's commands, one module per group; ``ivig_cds.cli`` parses and dispatches (no rich here)."""
