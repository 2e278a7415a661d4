"""Widgets of the dashboard: the virtual table, the serial terminal, the header, …"""
