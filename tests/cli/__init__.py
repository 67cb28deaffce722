"""The zeronet command: train, one-line errors, plugin subcommands."""
