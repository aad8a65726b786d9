def test_it_limits_requests_per_token_with_retry_after(api, member_token, outsider_token,
                                                       settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    for _ in range(3):
        assert api("get", "usage", member_token).status_code == 200
    response = api("get", "usage", member_token)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another token has its own allowance.
    assert api("get", "usage", outsider_token).status_code == 200
