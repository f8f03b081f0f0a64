"""mesogun: host software for an electronic mesotherapy injector."""
