package crm

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/perfexworker/perfex-worker/command"
)

func BenchmarkClassify(b *testing.B) {
	m := newMasker(testToken, ptr(testPassword))
	for _, bb := range []struct {
		name   string
		status int
		ct     string
		body   string
	}{
		{"applied", 200, contentJSON, updated},
		{"applied_php_warning", 200, contentJSON, updated + phpWarning},
		{"duplicate_email", 409, contentJSON, `{"status":false,"message":"Email already exists","error":{"email":"This Email is already in use"}}`},
		{"validation_422", 422, contentJSON, `{"status":false,"error":"validation_failed","message":"Validation failed","errors":{"email":"The Email field must contain a valid email address."}}`},
		{"proxy_502", 502, contentHTML, htmlBadGate},
	} {
		header := http.Header{"Content-Type": {bb.ct}, "X-Ratelimit-Reset": {"1800000000"}}
		body := []byte(bb.body)
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := &reply{method: http.MethodPut, path: contact12, status: bb.status, header: header, body: body}
				_ = classify(r, m)
			}
		})
	}
}

func BenchmarkMerge(b *testing.B) {
	stored, err := parseContact([]byte(storedRow))
	if err != nil {
		b.Fatal(err)
	}
	data := command.ContactData{Title: ptr("Diretora"), IsPrimary: ptr(false), TaskEmails: ptr(true)}
	perms := []int{1, 5}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(merge(stored, perms, data).body()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseContact(b *testing.B) {
	row := []byte(storedRow)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseContact(row); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExcerpt(b *testing.B) {
	body := []byte(htmlBadGate)
	b.ReportAllocs()
	for b.Loop() {
		_ = excerpt(body, newMasker(testToken, ptr(testPassword)))
	}
}
