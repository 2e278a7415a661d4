"""The Textual dashboard: the App and its actions, the command palette, panes, screens, widgets,
the live inventory, theme glue. Layers: pyproject.toml's "dashboard layers" contract."""
