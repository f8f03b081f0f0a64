"""The session core: the ``Gun`` facade, its control path, the host state machine and the event fan-out."""
