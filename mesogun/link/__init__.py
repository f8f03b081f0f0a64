"""The link: sequence numbers, acks, exactly-once retries and loss detection over one transport."""

from mesogun.link.link import ACK_TIMEOUT, RETRIES, Link, LinkHealth, Received

__all__ = ["ACK_TIMEOUT", "RETRIES", "Link", "LinkHealth", "Received"]
