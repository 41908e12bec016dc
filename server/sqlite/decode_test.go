package sqlite

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestDecodeAsUnmarshal holds decodeTags and decodeMetadata to json.Unmarshal:
// the same value (nil and empty apart) and the same success, for texts as
// json.Marshal writes them and for texts it never writes.
func TestDecodeAsUnmarshal(t *testing.T) {
	strs := []string{"", "a", "vip", "Zoë", "東京", "🚀", `q"uote`, `back\slash`, "<b>&", "tab\t", "\x00", "bad \xff",
		"\u2028", "\ufffd", "a,b", "a:b", "]", "}", "[", "{"}
	texts := []string{"", "null", "[]", "{}", "[ ]", "{ }", `["a"]`, `["a",]`, `[,"a"]`, `["a""b"]`, `["a" ,"b"]`,
		`{"a":"b"}`, `{"a":"b",}`, `{"a""b"}`, `{"a":1}`, `{"a":null}`, `["a",null]`, `[1]`, `["\u00e9"]`,
		`{"a":"b","a":"c"}`, `["unterminated`, `{"k":"unterminated`, "[\"bad \xff\"]", "{\"bad \xff\":\"v\"}",
		`["a"] `, `["a"]x`, `"a"`, `[["a"]]`, `{"a":{"b":"c"}}`}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		tags := []string{}
		m := map[string]string{}
		for range rng.IntN(8) {
			tags = append(tags, strs[rng.IntN(len(strs))]+strs[rng.IntN(len(strs))])
			m[strs[rng.IntN(len(strs))]+fmt.Sprint(rng.IntN(9))] = strs[rng.IntN(len(strs))]
		}
		texts = append(texts, mustJSON(tags), mustJSON(m))
	}
	for _, s := range texts {
		var wantTags []string
		wantErr := json.Unmarshal([]byte(s), &wantTags)
		tags, err := decodeTags(s)
		if (err != nil) != (wantErr != nil) || wantErr == nil && !reflect.DeepEqual(tags, wantTags) {
			t.Errorf("tags %q: got %#v, %v; want %#v, %v", s, tags, err, wantTags, wantErr)
		}
		var wantMeta map[string]string
		wantErr = json.Unmarshal([]byte(s), &wantMeta)
		meta, err := decodeMetadata(s)
		if (err != nil) != (wantErr != nil) || wantErr == nil && !reflect.DeepEqual(meta, wantMeta) {
			t.Errorf("metadata %q: got %#v, %v; want %#v, %v", s, meta, err, wantMeta, wantErr)
		}
	}
}
