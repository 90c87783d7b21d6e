from gateway.ratelimit.bucket import Limit, LocalAllowance

LIMIT = Limit(capacity=10, rate=5.0)


def test_lease_size_is_a_slice_of_the_rate_bounded_by_capacity_and_max():
    assert Limit(capacity=200, rate=50).lease_size(0.1, 50) == 5
    assert Limit(capacity=200, rate=5000).lease_size(0.1, 50) == 50
    assert Limit(capacity=3, rate=5000).lease_size(0.1, 50) == 3
    assert Limit(capacity=10, rate=0.5).lease_size(0.1, 50) == 1


def test_unknown_key_needs_a_lease_then_spends_it_locally():
    local = LocalAllowance(lease_ttl=1.0)
    assert local.take("a", LIMIT, now=0.0) is None
    local.apply("a", LIMIT, granted=3, shared_left=4.0, now=0.0)
    decisions = [local.take("a", LIMIT, now=0.1) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    # Remaining counts the local tokens plus what the shared bucket had left.
    assert [d.remaining for d in decisions] == [6, 5, 4]
    assert decisions[-1].reset_seconds == 2  # (10 - 4) / 5 per second
    assert local.take("a", LIMIT, now=0.2) is None  # spent: lease again


def test_a_stale_lease_is_replaced_and_its_tokens_handed_back():
    local = LocalAllowance(lease_ttl=1.0)
    local.apply("a", LIMIT, granted=3, shared_left=0.0, now=0.0)
    assert local.take("a", LIMIT, now=0.5).allowed
    assert local.take("a", LIMIT, now=1.5) is None
    assert local.release("a") == 2
    assert local.release("a") == 0


def test_a_refused_lease_blocks_until_one_token_refills_without_asking_again():
    local = LocalAllowance(lease_ttl=1.0)
    local.apply("a", LIMIT, granted=0, shared_left=0.25, now=10.0)
    refused = local.take("a", LIMIT, now=10.0)
    assert not refused.allowed and refused.remaining == 0
    assert refused.retry_after == 1  # 0.75 token at 5/s = 0.15 s, rounded up to a whole second
    assert dict(refused.headers())[b"retry-after"] == b"1"
    assert local.take("a", LIMIT, now=10.2) is None  # refilled: ask the shared bucket again


def test_keys_are_independent():
    local = LocalAllowance(lease_ttl=1.0)
    local.apply("a", LIMIT, granted=0, shared_left=0.0, now=0.0)
    local.apply("b", LIMIT, granted=1, shared_left=0.0, now=0.0)
    assert not local.take("a", LIMIT, now=0.0).allowed
    assert local.take("b", LIMIT, now=0.0).allowed
