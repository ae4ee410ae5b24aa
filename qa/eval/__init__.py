"""Evaluation: score labelled question sets against the service (`qa eval`)."""
