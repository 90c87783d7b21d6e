"""The four Sanlun domain services, one package each."""
