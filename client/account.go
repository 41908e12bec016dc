package client

import (
	"context"
	"net/http"

	"github.com/captureapi/capture/gen"
)

// AccountService is the /v1/account resource; reach it as Client.Account.
type AccountService struct{ c *Client }

// Get retrieves the account the API key belongs to: its name, plan limit,
// prospect count, rate limit and the key's role. It is also the cheapest way
// to check that a key works.
func (s *AccountService) Get(ctx context.Context, opts ...RequestOption) (*Account, error) {
	var a Account
	err := s.c.do(ctx, http.MethodGet, opts, func(*string) (*http.Request, error) {
		return gen.NewGetAccountRequest(s.c.baseURL)
	}, &a)
	if err != nil {
		return nil, err
	}
	return &a, nil
}
