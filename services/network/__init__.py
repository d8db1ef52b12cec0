"""The network service: who knows whom, and which introductions to suggest."""
