package clienttest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
)

func TestRealServerEraseAndLift(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	admin, standard := realClient(s, s.AdminKey), realClient(s, s.StandardKey)
	ctx := context.Background()
	p, err := standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := standard.Prospects.Erase(ctx, p.ID); !errors.Is(err, client.ErrAdminKeyRequired) {
		t.Fatalf("erase with a standard key: %v", err)
	}
	e, err := admin.Prospects.Erase(ctx, p.ID)
	if err != nil || e.ID != p.ID || !bool(e.Deleted) || !bool(e.Erased) {
		t.Fatalf("erase: %+v, %v", e, err)
	}
	_, err = standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"})
	var ce *client.Error
	if !errors.Is(err, client.ErrEmailSuppressed) || !errors.As(err, &ce) || ce.Param != "email" || ce.StatusCode != 409 {
		t.Fatalf("create a suppressed email: %v", err)
	}
	l, err := admin.Suppressions.Lift(ctx, "ada@example.com")
	if err != nil || !l.Lifted || l.Email != "ada@example.com" {
		t.Fatalf("lift: %+v, %v", l, err)
	}
	if _, err := standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com"}); err != nil {
		t.Fatalf("create after the lift: %v", err)
	}
}

func TestRealServerConsents(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	c := realClient(s, s.StandardKey)
	ctx := context.Background()
	p, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com", MarketingConsent: true, ConsentText: "News, please"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prospects.Update(ctx, p.ID, client.ProspectUpdateParams{MarketingConsent: client.Set(false)}); err != nil {
		t.Fatal(err)
	}
	var got []client.Consent
	for e, err := range c.Prospects.Consents(ctx, p.ID, client.ConsentListParams{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != 2 || got[0].Granted || !got[1].Granted || got[1].Text.MustGet() != "News, please" || got[0].Source != "api" {
		t.Fatalf("consents = %+v", got)
	}
}

func TestRealServerExport(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	admin, standard := realClient(s, s.AdminKey), realClient(s, s.StandardKey)
	ctx := context.Background()
	p, err := standard.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com", MarketingConsent: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := standard.Prospects.Export(ctx, p.ID); !errors.Is(err, client.ErrAdminKeyRequired) {
		t.Fatalf("export with a standard key: %v", err)
	}
	x, err := admin.Prospects.Export(ctx, p.ID)
	if err != nil || x.Prospect.Email != "ada@example.com" || len(x.Events) != 1 || x.Events[0].Data.Object.ID != p.ID ||
		len(x.Consents) != 1 || x.Submissions == nil {
		t.Fatalf("export: %+v, %v", x, err)
	}
}
