"""The HTTP edge both daemons share: correlation ids, request limits, the error envelope and the handlers
that render every failure as it. orchestratord and pool_managerd each add their own routes and guards;
this package imports nothing of either."""
