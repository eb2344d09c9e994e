"""Imports fine."""
