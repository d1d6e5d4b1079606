package crm

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/perfexworker/perfex-worker/command"
)

func FuzzParseContact(f *testing.F) {
	f.Add([]byte(storedRow))
	f.Add([]byte(storedRow + phpWarning))
	f.Add([]byte(strings.ReplaceAll(storedRow, `"1"`, "1")))
	f.Add([]byte(strings.ReplaceAll(storedRow, `"0"`, "null")))
	f.Add([]byte(strings.ReplaceAll(storedRow, `"1"`, "true")))
	f.Add([]byte(noData))
	f.Add([]byte(htmlPage))
	f.Add([]byte(`{"id":12.0,"userid":-1}`))
	f.Add([]byte("\uFEFF" + storedRow))

	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := parseContact(body)
		if err != nil {
			return
		}
		// What was read survives a round trip through the wire's spelling.
		again, err := parseContact(rowJSON(c))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again != c {
			t.Fatalf("round trip: %+v != %+v", again, c)
		}
	})
}

// rowJSON spells c the way Perfex does: every value a string.
func rowJSON(c contact) []byte {
	row := map[string]string{
		"id": strconv.FormatInt(c.ID, 10), "userid": strconv.FormatInt(c.UserID, 10),
		"firstname": c.FirstName, "lastname": c.LastName, "email": c.Email,
		"title": c.Title, "phonenumber": c.PhoneNumber, "direction": c.Direction,
		"active": flag01(c.Active), "is_primary": flag01(c.IsPrimary),
	}
	for i, name := range command.NotificationFlags {
		row[name] = flag01(c.Flags[i])
	}
	b, _ := json.Marshal(row)
	return b
}

func flag01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func FuzzExcerpt(f *testing.F) {
	f.Add([]byte(htmlBadGate), "pw")
	f.Add([]byte(`{"password":"x","message":"`+testToken+`"}`), testPassword)
	f.Add([]byte(strings.Repeat("a", excerptWindow-3)+testToken), "\u00e9\U0001F600/")

	f.Fuzz(func(t *testing.T, body []byte, password string) {
		if password == "" {
			return
		}
		got := excerpt(body, newMasker(testToken, &password))
		if len(got) > excerptMax || strings.ContainsAny(got, "\r\n") || !utf8.ValidString(got) {
			t.Fatalf("excerpt %q: %d bytes", got, len(got))
		}
		if strings.Contains(got, testToken) {
			t.Fatalf("excerpt %q shows the token", got)
		}
		// Only letters and digits: collapsing whitespace, masking and the
		// "..." mark could otherwise compose a password the body lacks.
		if len(password) >= 4 && !strings.ContainsFunc(password, notAlnum) && strings.Contains(got, password) {
			t.Fatalf("excerpt %q shows the password %q", got, password)
		}
	})
}

func notAlnum(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
}
