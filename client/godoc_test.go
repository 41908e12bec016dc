package client_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The generated types read as Go in go doc: no comment names an OpenAPI
// extension, no set gets a Valid method calling a newer server's values
// invalid, and no field holding one value (object, deleted) gets a type of
// one constant.
func TestGeneratedDocsReadAsGo(t *testing.T) {
	src, err := os.ReadFile("models.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(src), "\n") {
		// x-www-form-urlencoded is a media type, not an extension.
		if c := strings.TrimSpace(line); strings.HasPrefix(c, "//") &&
			regexp.MustCompile(`\bx-[a-z]+-?[a-z]*`).MatchString(strings.ReplaceAll(c, "x-www-form-urlencoded", "")) {
			t.Errorf("models.gen.go:%d: %s", i+1, c)
		}
	}
	if strings.Contains(string(src), ") Valid() bool") {
		t.Error("models.gen.go has Valid methods (skip-enum-validate in models.yaml)")
	}
	for _, m := range regexp.MustCompile(`(?m)^type (\w+(Object|Deleted|Erased|Received)) `).FindAllStringSubmatch(string(src), -1) {
		t.Errorf("models.gen.go has the one-value type %s", m[1])
	}
}
