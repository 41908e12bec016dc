package store

import (
	"encoding/json"
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// EventProspectJSON is an event's prospect as JSON, written by hand: a create
// spends less on it than on encoding/json's reflection, and fields at their
// zero value are left out (a deletion's event has the id alone). It reads
// back with encoding/json into the same store.Prospect as json.Marshal's.
func EventProspectJSON(p *Prospect) string {
	b := make([]byte, 0, 512)
	b = append(b, '{')
	str := func(name, v string) {
		if v != "" {
			b = appendJSONString(append(append(b, ',', '"'), name+`":`...), v)
		}
	}
	ptr := func(name string, v *string) {
		if v != nil {
			b = appendJSONString(append(append(b, ',', '"'), name+`":`...), *v)
		}
	}
	tm := func(name string, t *time.Time) {
		if t != nil && !t.IsZero() {
			b = append(append(append(b, ',', '"'), name+`":"`...), t.Format(time.RFC3339Nano)...)
			b = append(b, '"')
		}
	}
	b = appendJSONString(append(b, `"ID":`...), p.ID)
	str("AccountID", p.AccountID)
	str("Email", p.Email)
	ptr("FirstName", p.FirstName)
	ptr("LastName", p.LastName)
	ptr("Company", p.Company)
	ptr("Title", p.Title)
	ptr("Phone", p.Phone)
	ptr("Website", p.Website)
	ptr("Source", p.Source)
	str("Status", p.Status)
	if p.Tags != nil {
		b = append(b, `,"Tags":[`...)
		for i, t := range p.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t)
		}
		b = append(b, ']')
	}
	if p.Metadata != nil {
		b = append(b, `,"Metadata":{`...)
		for i, k := range slices.Sorted(maps.Keys(p.Metadata)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJSONString(b, k), ':')
			b = appendJSONString(b, p.Metadata[k])
		}
		b = append(b, '}')
	}
	if p.MarketingConsent {
		b = append(b, `,"MarketingConsent":true`...)
	}
	tm("ConsentAt", p.ConsentAt)
	if p.Hidden {
		b = append(b, `,"Hidden":true`...)
	}
	tm("Created", &p.Created)
	tm("Updated", &p.Updated)
	if p.Attribution != nil {
		b = append(append(b, `,"Attribution":`...), attributionJSON(p.Attribution)...)
	}
	return string(append(b, '}'))
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(b, '"')
}

// attributionJSON is a prospect's attribution as JSON: plain strings and
// times, which always encode.
func attributionJSON(a *Attribution) []byte {
	b, err := json.Marshal(a)
	if err != nil {
		panic(err)
	}
	return b
}
