"""Chat models that are not adapters to a server: scripted fakes for tests and demos."""
