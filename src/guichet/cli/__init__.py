"""The ``guichet`` command: thin, it parses, calls the same services as the web app, and prints."""
