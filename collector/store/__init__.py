"""Storage behind one interface (store.base.Store), with SQLite the default implementation."""
