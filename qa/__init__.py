"""qa: ask news articles a question and get an answer cited to source lines."""

__version__ = "0.1.0"
