package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/captureapi/capture/internal/apitest"
	"github.com/captureapi/capture/server"
)

// FuzzSubmission sends a form's submission path any method, body, media type,
// Accept and Origin, without a key: never a 5xx, and every answer (the HTML
// ones included) one openapi.yaml documents.
func FuzzSubmission(f *testing.F) {
	s := apitest.New(f, func(c *server.Config) { c.SubmissionsPerMinute = 1 << 30 })
	s.CheckOnClientSide()
	form := newFormF(f, s)
	f.Add("POST", "application/json", "", "", `{"email": "ada@example.com", "utm_source": "x", "plan": "pro"}`)
	f.Add("POST", "application/x-www-form-urlencoded", "text/html", "https://www.example.com", "email=ada%40example.com&_gotcha=1")
	f.Add("POST", "multipart/form-data; boundary=b", "text/html,*/*;q=0.8", "", "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.co\r\n--b--\r\n")
	f.Add("POST", "multipart/form-data; boundary=b", "", "", "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nx\r\n--b--\r\n")
	f.Add("OPTIONS", "", "", "https://evil.example.net", "")
	f.Add("POST", "application/json", "text/html", "null", `{"email": 5}`)
	f.Add("POST", "text/plain", "application/json;q=0", "", "hello")
	f.Fuzz(func(t *testing.T, method, contentType, accept, origin, body string) {
		if method != "POST" && method != "OPTIONS" {
			method = "POST"
		}
		req, err := http.NewRequest(method, s.URL+form, strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		for k, v := range map[string]string{"Content-Type": contentType, "Accept": accept, "Origin": origin} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		res, err := noRedirects.Do(req)
		if err != nil {
			t.Skip("a header value net/http will not send")
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s with %q, Accept %q, Origin %q: %d %s", method, contentType, accept, origin, res.StatusCode, b)
		}
		if err := apitest.Check(t, method, form, res, b); err != nil {
			t.Fatalf("%s with %q, Accept %q, Origin %q: %v\n%s", method, contentType, accept, origin, err, b)
		}
	})
}

// newFormF makes the form a fuzz target posts to and returns its submit path.
func newFormF(f *testing.F, s *apitest.Server) string {
	req, _ := http.NewRequest("POST", s.URL+"/v1/forms", strings.NewReader(`{"name": "fuzz", "allowed_origins": ["https://www.example.com"]}`))
	req.Header.Set("Authorization", "Bearer "+s.AdminKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	_, after, _ := strings.Cut(string(b), `"submit_url":"`)
	path, _, _ := strings.Cut(after, `"`)
	if res.StatusCode != http.StatusCreated || path == "" {
		f.Fatalf("create form: %d %s", res.StatusCode, b)
	}
	return path
}
