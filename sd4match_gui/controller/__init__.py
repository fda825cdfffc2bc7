"""Glue between the Qt-free model, the engine worker and the dumb views."""
