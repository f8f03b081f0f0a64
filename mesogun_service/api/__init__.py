"""The service's HTTP API: the app factory, its routes (guns, visits, record, events) and error replies."""
