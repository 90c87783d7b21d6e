"""Sanlun CRM: the shared kernel (`sanlun.kernel`) and the command line (`sanlun.cli`)."""
