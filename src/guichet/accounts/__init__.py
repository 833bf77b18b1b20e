"""Accounts: organisations, users and their roles, passwords, second factors and API tokens."""
