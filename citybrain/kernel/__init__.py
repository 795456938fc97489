"""The kernel every package imports: settings, the store and its migrations, errors, the
audit log, metrics, the clock, advisory locks, the embedded services, the console and
the HTTP plumbing (tokens, access rules, errors, limits). It imports no domain."""
