"""The dashboard panes: one module per pane (instances, images, disks, …)."""
