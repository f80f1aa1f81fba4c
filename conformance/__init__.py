"""The external SCIM suites' runner (``make conformance``) and where the shared/ checkout is found."""
