"""truceguard: watch a ceasefire and plan the force that safeguards it."""

__version__ = "0.1.0"
