"""The gun service: one long-lived process owns each gun and serves the CLI, the tablet and the tools (`mesogun serve`).

It is a client of :mod:`mesogun` (it talks to guns through :class:`mesogun.Gun`); `mesogun` never imports it.
"""
