package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/captureapi/capture/gen"
	"github.com/captureapi/capture/server/store"
)

func (h *handlers) SearchProspects(ctx context.Context, req gen.SearchProspectsRequestObject) (gen.SearchProspectsResponseObject, error) {
	key, q := apiKey(ctx), req.Params
	query, err := parseSearch(q.Query)
	if err != nil {
		return nil, err
	}
	sp := store.SearchParams{Query: query, Limit: 10, IncludeHidden: key.Role == store.RoleAdmin}
	if q.Limit != nil {
		sp.Limit = *q.Limit
	}
	if q.Page != nil {
		if sp.After, err = decodeSearchPage(*q.Page); err != nil {
			return nil, err
		}
	}
	page, err := h.store.SearchProspects(ctx, key.AccountID, sp)
	if err != nil {
		return nil, err
	}
	return searchAnswer{page: page, requestID: requestID(ctx)}, nil
}

// parseSearch parses the query, answering 400 query_invalid for one that does
// not parse or names a status no prospect can have.
func parseSearch(s string) (store.SearchQuery, error) {
	query, err := store.ParseSearch(s)
	var se *store.SearchError
	if errors.As(err, &se) {
		return query, invalid(gen.ErrorCodeQueryInvalid, "query", "Invalid query: %s", se.Error())
	}
	if err != nil {
		return query, err
	}
	for _, c := range query.Clauses {
		if c.Field == "status" && !gen.ProspectStatus(c.Text).Valid() {
			return query, invalid(gen.ErrorCodeQueryInvalid, "query",
				"Invalid query: unknown status %s; a status is one of new, contacted, qualified, unqualified, converted.",
				strconv.Quote(c.Text))
		}
	}
	return query, nil
}

// The page cursor is the last prospect id of the page before, in base64url:
// opaque, so that it may come to hold more without breaking a client.
const searchCursorPrefix = "prs_"

// prospectIDChars is the alphabet of the 26 characters after a prospect id's
// prefix: a ULID in lower-case Crockford base32.
const prospectIDChars = "0123456789abcdefghjkmnpqrstvwxyz"

func encodeSearchPage(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastID))
}

func decodeSearchPage(page string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(page)
	id, ok := strings.CutPrefix(string(b), searchCursorPrefix)
	if err != nil || !ok || len(id) != 26 || strings.Trim(id, prospectIDChars) != "" {
		return "", invalid(gen.ErrorCodeParameterInvalid, "page",
			"Invalid page: send the next_page of an earlier answer to the same query.")
	}
	return string(b), nil
}

// searchAnswer is SearchProspects' 200.
type searchAnswer struct {
	page      *store.Page
	requestID string
}

// VisitSearchProspectsResponse writes the answer.
func (a searchAnswer) VisitSearchProspectsResponse(w http.ResponseWriter) error {
	return writeLean(w, http.StatusOK, a.requestID, func(b []byte) []byte {
		b = append(b, `{"data":[`...)
		for i := range a.page.Prospects {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendProspect(b, &a.page.Prospects[i])
		}
		b = append(b, `],"has_more":`...)
		b = strconv.AppendBool(b, a.page.HasMore)
		b = append(b, `,"next_page":`...)
		if n := len(a.page.Prospects); a.page.HasMore && n > 0 {
			b = strconv.AppendQuote(b, encodeSearchPage(a.page.Prospects[n-1].ID))
		} else {
			b = append(b, "null"...)
		}
		return append(b, `,"object":"search_result","url":"/v1/prospects/search"}`...)
	})
}
