"""One module per subcommand; each exposes ``command`` (a click command or group).

Modules here are discovered automatically; plugins add commands through the
``eokit.commands`` entry-point group.
"""
