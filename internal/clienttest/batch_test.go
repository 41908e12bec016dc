package clienttest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/captureapi/capture/client"
	"github.com/captureapi/capture/internal/apitest"
)

// CreateBatch answers each item typed: a prospect or an *Error that matches
// the sentinels; items that failed do not make the call fail.
func TestRealServerCreateBatch(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	c := realClient(s, s.StandardKey)
	ctx := context.Background()
	existing, err := c.Prospects.Create(ctx, client.ProspectCreateParams{Email: "ada@example.com", FirstName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	items := []client.ProspectCreateParams{
		{Email: "grace@example.com", Tags: []string{"expo"}},
		{Email: "ada@example.com", Company: "Analytical Engines"},
		{Email: "not-an-email"},
		{Email: "eve@example.com", Hidden: true},
	}
	var resp client.Response
	b, err := c.Prospects.CreateBatch(ctx, items, client.WithResponse(&resp))
	if err != nil {
		t.Fatal(err)
	}
	if b.Object != "batch" || len(b.Data) != 4 || b.Created != 1 || b.Failed != 3 || resp.StatusCode != 200 {
		t.Fatalf("batch = %+v", b)
	}
	if r := b.Data[0]; r.Status != 201 || r.Prospect == nil || r.Prospect.Email != "grace@example.com" || r.Error != nil {
		t.Errorf("item 0 = %+v", r)
	}
	wantErr := func(i int, sentinel *client.Error, status int, param string) *client.Error {
		t.Helper()
		r := b.Data[i]
		if r.Error == nil || r.Prospect != nil {
			t.Fatalf("item %d = %+v", i, r)
		}
		if !errors.Is(r.Error, sentinel) || r.Error.StatusCode != status || r.Error.Param != param || r.Error.RequestID != resp.RequestID {
			t.Errorf("item %d error = %+v", i, r.Error)
		}
		return r.Error
	}
	if e := wantErr(1, client.ErrProspectExists, 409, "prospects[1].email"); e.ExistingID != existing.ID {
		t.Errorf("existing id %q, want %q", e.ExistingID, existing.ID)
	}
	wantErr(2, client.ErrInvalidRequest, 400, "prospects[2].email")
	wantErr(3, &client.Error{Code: client.ErrorCodeAdminKeyRequired}, 403, "prospects[3].hidden")

	// on_conflict update through WithOnConflict.
	b, err = c.Prospects.CreateBatch(ctx, items[1:2], client.WithOnConflict(client.OnConflictUpdate))
	if err != nil {
		t.Fatal(err)
	}
	if r := b.Data[0]; b.Updated != 1 || r.Status != 200 || r.Prospect.ID != existing.ID || r.Prospect.Company != "Analytical Engines" || r.Prospect.FirstName != "Ada" {
		t.Errorf("upsert = %+v", b)
	}
}

// A batch refused whole is an error.
func TestRealServerCreateBatchRefused(t *testing.T) {
	t.Parallel()
	s := apitest.New(t)
	c := realClient(s, s.StandardKey)
	items := make([]client.ProspectCreateParams, client.MaxBatch+1)
	for i := range items {
		items[i].Email = fmt.Sprintf("p%d@example.com", i)
	}
	_, err := c.Prospects.CreateBatch(context.Background(), items)
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 400 || e.Code != client.ErrorCodeParameterInvalid || e.Param != "prospects" {
		t.Fatalf("501 items: %v", err)
	}
	if _, err := c.Prospects.CreateBatch(context.Background(), nil); !errors.Is(err, client.ErrInvalidRequest) {
		t.Fatalf("no items: %v", err)
	}
}
