package client

import (
	"context"
	"net/http"
)

// AccountService is the /v1/account resource; reach it as Client.Account.
type AccountService struct{ c *Client }

// Get retrieves the account the API key belongs to: its name, plan limit,
// prospect count, rate limit and the key's role. It is also the cheapest way
// to check that a key works.
func (s *AccountService) Get(ctx context.Context, opts ...RequestOption) (*Account, error) {
	var a Account
	err := s.c.do(ctx, http.MethodGet, "v1/account", nil, nil, opts, &a)
	if err != nil {
		return nil, err
	}
	return &a, nil
}
