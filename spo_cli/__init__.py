"""Command-line doors (daemons) over the collection's engine in plugins/module_utils."""
