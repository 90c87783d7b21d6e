"""ESP+ key account service: accounts, coverage, relationship maps and account plans."""
