"""HTTP plumbing shared by every router: correlation ids, limits, the error envelope, authentication."""
