"""The command palette (`ctrl+p`): its provider, and the commands the App registers with it."""
