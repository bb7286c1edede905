"""Sync engine (client side) and the wire protocol shared with central/."""
