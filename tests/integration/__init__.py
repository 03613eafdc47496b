"""End-to-end tests of the control path across several pool_managerd processes on one machine."""
