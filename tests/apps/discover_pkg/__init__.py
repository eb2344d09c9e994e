"""A package of task modules for discovery tests (``tests.apps.discover_pkg.*``)."""

from jetjobs import App

app = App("discovered")
