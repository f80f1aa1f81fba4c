"""scim package."""
