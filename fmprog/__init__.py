"""fmprog: compile foundation-model programs to a graph IR and run them cheaply."""

__version__ = "0.1.0"
