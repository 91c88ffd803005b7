"""Protocol conformance suites that talk to a running server over the wire."""
