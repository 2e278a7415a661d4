"""The Textual dashboard: the App, panes, screens, widgets, command palette, live inventory, theme
glue."""
