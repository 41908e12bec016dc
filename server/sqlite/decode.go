package sqlite

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// A prospect's tags and metadata are stored as json.Marshal writes them. Most
// such texts hold plain strings only; decodeTags and decodeMetadata read those
// without encoding/json's reflection, which was a third of a listed row's
// decoding, and hand anything else (an escape, invalid UTF-8, null, spaces) to
// json.Unmarshal, so that the result is always what it would give.

func decodeTags(s string) ([]string, error) {
	if tags, ok := plainTags(s); ok {
		return tags, nil
	}
	var tags []string
	err := json.Unmarshal([]byte(s), &tags)
	return tags, err
}

func decodeMetadata(s string) (map[string]string, error) {
	if m, ok := plainMetadata(s); ok {
		return m, nil
	}
	var m map[string]string
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}

// plainTags reads ["a","b"], with no space and no escape in any string.
func plainTags(s string) ([]string, bool) {
	rest, ok := strings.CutPrefix(s, "[")
	if !ok {
		return nil, false
	}
	tags := make([]string, 0, strings.Count(s, ","))
	if rest == "]" {
		return tags, true
	}
	for {
		var t string
		if t, rest, ok = plainString(rest); !ok {
			return nil, false
		}
		tags = append(tags, t)
		switch {
		case rest == "]":
			return tags, true
		case strings.HasPrefix(rest, ","):
			rest = rest[1:]
		default:
			return nil, false
		}
	}
}

// plainMetadata reads {"k":"v","k2":"v2"}, with no space and no escape in any string.
func plainMetadata(s string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(s, "{")
	if !ok {
		return nil, false
	}
	m := make(map[string]string, strings.Count(s, ","))
	if rest == "}" {
		return m, true
	}
	for {
		var k, v string
		if k, rest, ok = plainString(rest); !ok {
			return nil, false
		}
		if rest, ok = strings.CutPrefix(rest, ":"); !ok {
			return nil, false
		}
		if v, rest, ok = plainString(rest); !ok {
			return nil, false
		}
		m[k] = v
		switch {
		case rest == "}":
			return m, true
		case strings.HasPrefix(rest, ","):
			rest = rest[1:]
		default:
			return nil, false
		}
	}
}

// plainString reads a JSON string at the start of s that json.Unmarshal would
// give back as its bytes: valid UTF-8 without escapes or control characters.
func plainString(s string) (str, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			str = s[1:i]
			return str, s[i+1:], utf8.ValidString(str)
		case c == '\\' || c < 0x20:
			return "", "", false
		}
	}
	return "", "", false
}
