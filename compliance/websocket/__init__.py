"""WebSocket conformance suite: RFC 6455 / 7692 / 8441, organised like Autobahn sections 1-13."""
