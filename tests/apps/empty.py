"""An app that registers no task (for the CLI's empty-registry message)."""

from jetjobs import App

app = App("empty")
