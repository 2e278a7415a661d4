"""lecs front ends: the Textual dashboard and the CLI. They talk to `backend.Cloud` only."""
