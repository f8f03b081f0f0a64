"""Tooling around the protocol contract: the ``python -m firmware_protocol`` CLI and the docs/protocol.md renderer.

Nothing in the contract (:mod:`firmware_protocol`), the simulator (:mod:`sims`) or the host (:mod:`mesogun`)
imports this package; it imports the contract.
"""
