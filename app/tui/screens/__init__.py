"""Screens and modal dialogs of the dashboard: one module each."""
