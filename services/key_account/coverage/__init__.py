"""Coverage: account team members with roles and validity; the strategic/key rule; `account.coverage_changed`."""
