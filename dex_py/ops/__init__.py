"""Operations: what an operator runs and watches.

``logs`` (text/JSON logging), ``metrics`` (Prometheus), ``background`` (housekeeping jobs),
``health`` (the ``/healthz`` views).
"""
