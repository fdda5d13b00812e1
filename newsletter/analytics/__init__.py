"""Read-only reports built from the ledger, the events and the votes."""
