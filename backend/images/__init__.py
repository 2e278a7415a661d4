"""Images (IMS): images imported from files or URLs, converted, checked, and captured from
instances."""
