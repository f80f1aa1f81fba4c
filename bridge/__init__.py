"""scim-bridge: a SCIM 2.0 service provider beside an unmodified Determined master."""

__version__ = "0.1.0"
