"""Platform adapters: translate platform updates to canonical events and actions to API calls."""
