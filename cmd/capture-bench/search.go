package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The search rows find one seeded prospect a request, by a substring of its
// company (the trigram index) and by its exact email (the unique email
// index), on the database of BENCH_SEED prospects and again on the one of
// BENCH_LIST_ROWS: a selective search should cost about the same in both.
// A third row searches, as an account of smallAccountProspects prospects, for
// a substring every prospect of the load's account holds: it should cost
// what the small account holds, whatever the other holds.

// smallAccountProspects is how many prospects the small account holds.
const smallAccountProspects = 5

// seedWord is the word in the company of the i-th seeded prospect ("Firm "
// and it): six letters, a different word for each i below 26⁶, spread over
// the alphabet so that each of its trigrams is in few other prospects' words.
// seedWordSQL writes the same in SQL.
func seedWord(i int) string {
	x := i * seedWordFactor % seedWordSpace
	b := make([]byte, 6)
	for j := range b {
		b[j] = byte('a' + x%26)
		x /= 26
	}
	return string(b)
}

const (
	seedWordFactor = 7919      // prime, so i ↦ i × 7919 mod 26⁶ is one to one
	seedWordSpace  = 308915776 // 26⁶
)

// seedWordSQL is seedWord of the integer expression i in SQL, with chr the
// engine's character of a code point.
func seedWordSQL(i string, chr func(string) string) string {
	x := fmt.Sprintf("((%s) * %d %% %d)", i, seedWordFactor, seedWordSpace)
	s := ""
	div := 1
	for j := range 6 {
		if j > 0 {
			s += " || "
		}
		s += chr(fmt.Sprintf("97 + %s / %d %% 26", x, div))
		div *= 26
	}
	return s
}

// searchRows are the search rows on the database of BENCH_SEED prospects;
// the capture-baseline floor has no search.
func searchRows() []row {
	return []row{
		{
			key: "search-substring", name: `GET /v1/prospects/search company~"…", 1 found`, status: 200,
			target: searchSubstringTarget, check: foundOne, skip: "floor",
		},
		{
			key: "search-email", name: `GET /v1/prospects/search email:"…", 1 found`, status: 200,
			target: searchEmailTarget, check: foundOne, skip: "floor",
		},
		{
			key:    "search-small",
			name:   fmt.Sprintf(`GET /v1/prospects/search email~"example.com" by an account of %d`, smallAccountProspects),
			status: 200, target: searchSmallTarget, check: foundAllSmall, skip: "floor",
		},
	}
}

// bigSearchRows are the search rows on the big database, each held to twice
// the CPU a request of its row costs on the small one.
func bigSearchRows(prospects int) []row {
	rows := searchRows()
	for i := range rows {
		rows[i].goal = goal{maxCPUOf: rows[i].key, maxCPUFactor: 2}
		rows[i].key += "-big"
		rows[i].name += " @ " + countLabel(prospects)
	}
	return rows
}

// seeded is one of the seeded prospects' numbers, a different one each request.
func (e *rowEnv) seeded(n uint64) int { return int(n * 104729 % uint64(e.prospects)) }

func searchSubstringTarget(e *rowEnv, n uint64, t *vegeta.Target) {
	q := `company~"` + seedWord(e.seeded(n)) + `"`
	t.Method, t.URL, t.Header = "GET", e.at(n)+"/v1/prospects/search?query="+url.QueryEscape(q), e.header()
}

func searchEmailTarget(e *rowEnv, n uint64, t *vegeta.Target) {
	q := `email:"seed-` + fmt.Sprintf("%07d", e.seeded(n)) + `@example.com"`
	t.Method, t.URL, t.Header = "GET", e.at(n)+"/v1/prospects/search?query="+url.QueryEscape(q), e.header()
}

// searchSmallTarget searches as the small account for a substring that
// every prospect of both accounts holds.
func searchSmallTarget(e *rowEnv, n uint64, t *vegeta.Target) {
	t.Method, t.URL = "GET", e.at(n)+"/v1/prospects/search?query="+url.QueryEscape(`email~"example.com"`)
	t.Header = e.header("Authorization", "Bearer "+e.smallKey)
}

// foundAllSmall accepts a search result of the small account's prospects.
func foundAllSmall(body []byte) error {
	var v struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &v); err != nil || len(v.Data) != smallAccountProspects {
		return fmt.Errorf("want the small account's %d prospects, got %.200s", smallAccountProspects, body)
	}
	return nil
}

// foundOne accepts a search result of exactly one prospect.
func foundOne(body []byte) error {
	var v struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Object != "search_result" || len(v.Data) != 1 {
		return fmt.Errorf("want a search result of one prospect, got %.200s", body)
	}
	return nil
}

// cpuRatioMet judges a row held to a factor of another row's CPU a request.
func cpuRatioMet(g goal, c, base result) string {
	if c.cpuPerRequest() == 0 || base.cpuPerRequest() == 0 {
		return "–"
	}
	r := float64(c.cpuPerRequest()) / float64(base.cpuPerRequest())
	return yesNo(r <= g.maxCPUFactor) + " (" + strconv.FormatFloat(r, 'f', 2, 64) + "×)"
}
